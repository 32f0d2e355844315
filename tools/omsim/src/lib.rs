// SPDX-License-Identifier: GPL-2.0

//! `omsim`: the openmosix-rs balancer and gossip, as the module runs them, on a simulated cluster.
//!
//! [`sim`] is a discrete-event model of N nodes (thousands) that calls `omcore::balance` and
//! `omcore::gossip` for every decision and every gossip message; [`svg`] draws its time series.
//! `omsim --help` lists the scenarios; `Documentation/balancing.md` gives the model and results.

pub mod sim;
pub mod svg;

#[cfg(test)]
mod tests {
    use super::sim::{Config, Sim};

    /// 64 standard nodes, 256 equal 300 s jobs started on node 1: 4 per node is the ideal.
    fn batch64(seed: u64) -> super::sim::Report {
        Sim::new(Config {
            nodes: 64,
            batch: 256,
            seed,
            ..Config::default()
        })
        .run()
    }

    #[test]
    fn batch_of_64_nodes_spreads_and_stays_balanced() {
        for seed in [1, 2] {
            let r = batch64(seed);
            assert_eq!((r.jobs, r.finished, r.killed), (256, 256, 0));
            // The source pushes at most max_migrations (4) per 1 s round and each job moves about
            // once, so spreading 252 jobs takes about 63 s of 1200: the makespan stays within 15 %
            // of ideal.
            let ratio = r.makespan_ratio();
            assert!((1.0..1.15).contains(&ratio), "seed {seed}: ratio {ratio}");
            // Every job but node 1's four moves at least once; refinements stay few.
            assert!(
                r.migrations >= 252 && r.migrations < 512,
                "{}",
                r.migrations
            );
            // Once spread (after 10 % of the ideal time) and until the first jobs end, the most
            // loaded node carries at most one job more than the mean of 4: max/mean <= 1.25. A
            // balancer that stopped early, or that let guests pile up, breaks this bound.
            let imb = r.mean_imbalance(0.1 * r.ideal_s, 0.9 * r.ideal_s);
            assert!((1.0..=1.25).contains(&imb), "seed {seed}: imbalance {imb}");
            assert!(r.gossip_bps_per_node > 0.0);
        }
    }

    #[test]
    fn same_seed_same_run() {
        let (a, b) = (batch64(3), batch64(3));
        assert_eq!(a.migrations, b.migrations);
        assert_eq!(a.makespan_s, b.makespan_s);
        assert_eq!(a.events, b.events);
    }

    #[test]
    fn joined_node_gets_work_and_failures_kill_their_jobs() {
        let r = Sim::new(Config {
            nodes: 16,
            batch: 64,
            work_s: 200.0,
            join_s: Some(20.0),
            fail: Some((2, 100.0)),
            seed: 5,
            ..Config::default()
        })
        .run();
        let join = r.join_to_work_s.expect("the joined node never got a job");
        assert!(join < 30.0, "{join}");
        // Nodes 15 and 16 held about 4 jobs each when they failed.
        assert!((1..=12).contains(&r.killed), "{}", r.killed);
        assert_eq!(r.finished + r.killed, r.jobs);
    }

    #[test]
    fn gossip_bytes_match_the_message_sizes() {
        // With a full window every node sends 2 frames of 32 + 2 + 20 * 48 + 32 bytes per 500 ms.
        let r = Sim::new(Config {
            nodes: 64,
            batch: 64,
            max_time_s: 60.0,
            ..Config::default()
        })
        .run();
        let full = 2.0 * (32.0 + 2.0 + 20.0 * 48.0 + 32.0) * 2.0;
        assert!(
            r.gossip_bps_per_node > 0.9 * full && r.gossip_bps_per_node <= full,
            "{}",
            r.gossip_bps_per_node
        );
    }
}
