// SPDX-License-Identifier: GPL-2.0

//! `omsim`: run one simulated cluster and print what it measured (see `omsim --help`).

use omsim::sim::{Config, Report, Sim};
use omsim::svg::{plot, Series};
use std::process::ExitCode;

const USAGE: &str = "\
usage: omsim [--scenario batch|mixed] [--nodes N] [--jobs K] [--seed S] [--svg DIR] [options]

scenarios:
  batch  (default) K equal CPU jobs started on node 1 of N standard one-CPU nodes;
         reports the makespan against ceil(K / CPUs) x one job's time
  mixed  heterogeneous nodes (speed, CPUs, memory, links), a batch of 2N jobs on node 1,
         Poisson arrivals (N/20 per s for 600 s), N/16 nodes failing at 300 s, a node
         joining at 200 s
options:
  --jobs K          batch jobs (batch: 4N)         --work S        CPU s per batch job (300)
  --image-mb M      batch job image, MiB (4)        --rate R        arrivals per s (0)
  --arrival-work S  mean CPU s of an arrival (120)  --until S       arrivals stop (600)
  --hetero          heterogeneous nodes             --cpus C        CPUs per node (1)
  --fail N@T        N nodes fail at T s             --join T        a node joins at T s
  --loss P          membership message loss (0..1)  --max-time S    stop at S s
  --period MS       membership probe period (200)   --indirect K    indirect probes (3)
  --suspicion M     suspicion timeout, periods x ceil(log10(N + 1)) (3)
  --lambda L        piggyback count, x ceil(log10(N + 1)) (5)
  --unpaced         one balancing round per balance_interval_ms (the module today)
  --set KNOB=VALUE  a balancer knob (Documentation/balancing.md), e.g. max_migrations=16
  --svg DIR         write imbalance, jobs, traffic and detection plots to DIR
";

fn parse(args: &[String]) -> Result<(Config, Option<String>, String), String> {
    let mut cfg = Config::default();
    let mut svg = None;
    let mut scenario = "batch".to_string();
    let mut jobs = None;
    let mut i = 0;
    let it = |i: &mut usize| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{} needs a value", args[*i - 1]))
    };
    fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
        s.parse().map_err(|_| format!("not a number: {s}"))
    }
    while i < args.len() {
        match args[i].as_str() {
            "--scenario" => scenario = it(&mut i)?,
            "--nodes" => cfg.nodes = num(&it(&mut i)?)?,
            "--jobs" => jobs = Some(num(&it(&mut i)?)?),
            "--seed" => cfg.seed = num(&it(&mut i)?)?,
            "--work" => cfg.work_s = num(&it(&mut i)?)?,
            "--image-mb" => cfg.image_bytes = num::<u64>(&it(&mut i)?)? << 20,
            "--rate" => cfg.arrival_rate = num(&it(&mut i)?)?,
            "--arrival-work" => cfg.arrival_work_s = num(&it(&mut i)?)?,
            "--until" => cfg.arrival_until_s = num(&it(&mut i)?)?,
            "--hetero" => cfg.hetero = true,
            "--cpus" => cfg.cpus = num(&it(&mut i)?)?,
            "--fail" => {
                let v = it(&mut i)?;
                let (n, t) = v.split_once('@').ok_or("--fail takes N@T")?;
                cfg.fail = Some((num(n)?, num(t)?));
            }
            "--join" => cfg.join_s = Some(num(&it(&mut i)?)?),
            "--loss" => cfg.loss = num(&it(&mut i)?)?,
            "--period" => cfg.swim.period_ms = num(&it(&mut i)?)?,
            "--indirect" => cfg.swim.indirect = num(&it(&mut i)?)?,
            "--suspicion" => cfg.swim.suspicion_mult = num(&it(&mut i)?)?,
            "--lambda" => cfg.swim.lambda = num(&it(&mut i)?)?,
            "--unpaced" => cfg.paced = false,
            "--max-time" => cfg.max_time_s = num(&it(&mut i)?)?,
            "--svg" => svg = Some(it(&mut i)?),
            "--set" => {
                let v = it(&mut i)?;
                let (name, value) = v.split_once('=').ok_or("--set takes KNOB=VALUE")?;
                cfg.tun
                    .set(name, num(value)?)
                    .map_err(|e| format!("--set {v}: {e}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
        i += 1;
    }
    if !(0.0..1.0).contains(&cfg.loss) {
        return Err("--loss must be in [0, 1)".into());
    }
    if cfg.swim.period_ms == 0 || cfg.swim.probe_timeout_ms >= cfg.swim.period_ms {
        cfg.swim.probe_timeout_ms = cfg.swim.period_ms * 2 / 5;
    }
    if cfg.nodes < 2 {
        return Err("--nodes must be at least 2".into());
    }
    match scenario.as_str() {
        "batch" => cfg.batch = jobs.unwrap_or(4 * cfg.nodes),
        "mixed" => {
            cfg.hetero = true;
            cfg.batch = jobs.unwrap_or(2 * cfg.nodes);
            if cfg.arrival_rate == 0.0 {
                cfg.arrival_rate = f64::from(cfg.nodes) / 20.0;
            }
            cfg.fail = cfg.fail.or(Some(((cfg.nodes / 16).max(1), 300.0)));
            cfg.join_s = cfg.join_s.or(Some(200.0));
        }
        other => return Err(format!("unknown scenario {other}")),
    }
    Ok((cfg, svg, scenario))
}

fn print(cfg: &Config, r: &Report, scenario: &str) {
    println!(
        "scenario {scenario}, {} nodes, {} jobs started, {} finished, {} killed, {:.0} s simulated, {} events",
        r.nodes, r.jobs, r.finished, r.killed, r.end_s, r.events
    );
    // The ideal is only meaningful for a lone batch on standard nodes.
    if cfg.batch > 0 && r.makespan_s > 0.0 && !cfg.hetero && cfg.arrival_rate <= 0.0 {
        println!(
            "makespan {:.0} s, ideal {:.0} s, ratio {:.3}; link-limited bound {:.0} s, ratio {:.3}",
            r.makespan_s,
            r.ideal_s,
            r.makespan_ratio(),
            r.link_bound_s,
            r.link_ratio()
        );
    } else if cfg.batch > 0 && r.makespan_s > 0.0 {
        println!("batch makespan {:.0} s", r.makespan_s);
    }
    println!(
        "migrations {} ({:.2} per job; {} for memory, {} to a node found down, {} refused)",
        r.migrations,
        r.migrations as f64 / f64::from(r.jobs.max(1)),
        r.usher_migrations,
        r.failed_migrations,
        r.refused
    );
    let horizon = if r.makespan_s > 0.0 {
        r.makespan_s
    } else {
        r.end_s
    };
    println!(
        "imbalance (max/mean load per CPU): mean {:.3} over [10 %, 90 %] of the run",
        r.mean_imbalance(0.1 * horizon, 0.9 * horizon)
    );
    println!(
        "membership {:.0} bytes/node/s measured ({} messages, {} lost); heartbeats to every peer would cost {:.0} bytes/node/s",
        r.traffic_bps_per_node, r.messages, r.lost, r.heartbeat_bps_per_node
    );
    if cfg.fail.is_some() {
        let s = |v: Option<f64>| v.map_or("never".to_string(), |v| format!("{v:.1} s"));
        println!(
            "failure known by the first node after {}, by every live node after {}",
            s(r.detect_first_s),
            s(r.detect_all_s)
        );
    }
    println!(
        "false positives: {} suspicions of live nodes, {} live nodes declared dead",
        r.false_suspicions, r.false_downs
    );
    match (cfg.join_s, r.join_to_work_s) {
        (Some(t), Some(d)) => println!("node joined at {t:.0} s, first job after {d:.1} s"),
        (Some(t), None) => println!("node joined at {t:.0} s, never got a job"),
        _ => {}
    }
}

fn write_svgs(dir: &str, scenario: &str, cfg: &Config, r: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mom: Vec<(f64, f64)> = r.samples.iter().map(|s| (s.t, s.max_over_mean)).collect();
    let cv: Vec<(f64, f64)> = r.samples.iter().map(|s| (s.t, s.cv)).collect();
    let live: Vec<(f64, f64)> = r.samples.iter().map(|s| (s.t, f64::from(s.live))).collect();
    let mut marks = Vec::new();
    if let Some(t) = cfg.join_s {
        marks.push((t, "join"));
    }
    if let Some((_, t)) = cfg.fail {
        marks.push((t, "failures"));
    }
    let n = cfg.nodes;
    let title = format!("{scenario}, {n} nodes: load imbalance");
    let s = plot(
        &title,
        "time (s)",
        "load per CPU",
        &[
            Series {
                name: "max / mean",
                points: &mom,
            },
            Series {
                name: "stddev / mean",
                points: &cv,
            },
        ],
        &marks,
    );
    std::fs::write(format!("{dir}/omsim-{scenario}-{n}-imbalance.svg"), s)?;
    let title = format!("{scenario}, {n} nodes: jobs running or migrating");
    let s = plot(
        &title,
        "time (s)",
        "jobs",
        &[Series {
            name: "jobs",
            points: &live,
        }],
        &marks,
    );
    std::fs::write(format!("{dir}/omsim-{scenario}-{n}-jobs.svg"), s)?;
    let traffic: Vec<(f64, f64)> = r.samples.iter().map(|s| (s.t, s.traffic)).collect();
    let title = format!("{scenario}, {n} nodes: membership and load traffic per node");
    let series = [Series {
        name: "bytes/s sent per node",
        points: &traffic,
    }];
    let s = plot(&title, "time (s)", "bytes/s", &series, &marks);
    std::fs::write(format!("{dir}/omsim-{scenario}-{n}-traffic.svg"), s)?;
    if !r.detect_curve.is_empty() {
        let title = format!("{scenario}, {n} nodes: failure detection");
        let series = [Series {
            name: "share of live nodes that know",
            points: &r.detect_curve,
        }];
        let s = plot(&title, "time since the failure (s)", "share", &series, &[]);
        std::fs::write(format!("{dir}/omsim-{scenario}-{n}-detection.svg"), s)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cfg, svg, scenario) = match parse(&args) {
        Ok(v) => v,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("omsim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let r = Sim::new(cfg.clone()).run();
    print(&cfg, &r, &scenario);
    if let Some(dir) = svg {
        if let Err(e) = write_svgs(&dir, &scenario, &cfg, &r) {
            eprintln!("omsim: {dir}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
