// SPDX-License-Identifier: GPL-2.0

//! `omsim`: the openmosix-rs balancer and membership protocol, as the module is to run them, on a
//! simulated cluster.
//!
//! [`sim`] is a discrete-event model of N nodes (thousands) that calls `omcore::balance` for
//! every decision and `omcore::swim` (with the load table of `omcore::gossip`) for every
//! membership message, which [`net`] encodes, counts, loses or delivers; [`config`] says what to
//! simulate and what was measured; [`svg`] draws its time series. `omsim --help` lists the
//! scenarios; `Documentation/balancing.md` and `Documentation/membership.md` give the model and
//! results.

pub mod config;
pub mod net;
pub mod sim;
pub mod svg;

#[cfg(test)]
mod tests {
    use super::sim::{Config, Sim};
    use omcore::frame::{AEAD_TAG_LEN, HEADER_LEN};
    use omcore::swim::MAX_LEN;

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
            assert!(r.traffic_bps_per_node > 0.0);
            assert_eq!((r.false_suspicions, r.false_downs), (0, 0));
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

    /// A cluster without jobs, with `loss`, whose last `fail` nodes fail at 10 s.
    fn quiet(nodes: u32, loss: f64, fail: u32, seed: u64) -> super::sim::Report {
        Sim::new(Config {
            nodes,
            batch: 0,
            loss,
            fail: (fail > 0).then_some((fail, 10.0)),
            max_time_s: 40.0,
            seed,
            ..Config::default()
        })
        .run()
    }

    #[test]
    fn membership_traffic_does_not_grow_with_the_cluster() {
        let small = quiet(32, 0.0, 0, 1);
        let large = quiet(512, 0.0, 0, 1);
        // A probe and the acks of the probes received, about two messages a period (200 ms),
        // each at most the largest message with its frame header and tag.
        let most = 2.0 * 5.0 * (MAX_LEN + HEADER_LEN + AEAD_TAG_LEN) as f64;
        for r in [&small, &large] {
            assert!(
                r.traffic_bps_per_node > 0.2 * most && r.traffic_bps_per_node < most,
                "{}",
                r.traffic_bps_per_node
            );
            assert_eq!((r.false_suspicions, r.false_downs), (0, 0));
        }
        let ratio = large.traffic_bps_per_node / small.traffic_bps_per_node;
        assert!((0.95..1.05).contains(&ratio), "{ratio}");
        // Heartbeats to every peer would have grown 16-fold.
        assert!(large.heartbeat_bps_per_node > 15.0 * small.heartbeat_bps_per_node);
    }

    #[test]
    fn failures_are_learned_by_all_despite_loss_without_false_deaths() {
        for seed in [1, 2] {
            let r = quiet(256, 0.01, 2, seed);
            assert!(r.lost > 0);
            let all = r.detect_all_s.expect("every node learned of both failures");
            let first = r.detect_first_s.expect("someone learned");
            // At least the suspicion timeout (3 x 3 periods of 200 ms), and within a few
            // seconds more: first probe, dissemination.
            assert!(first >= 1.8 && all < 6.0, "seed {seed}: {first} .. {all}");
            assert_eq!(r.false_downs, 0, "seed {seed}");
            let done = r.detect_curve.last().map(|p| p.1);
            assert_eq!(done, Some(1.0));
        }
    }
}
