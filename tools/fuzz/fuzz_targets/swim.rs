// SPDX-License-Identifier: GPL-2.0
//! Membership messages: decoding never panics, what decodes encodes back to the same bytes, and
//! a node's state machine takes any decoded message (from any sender) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::swim::{Event, Member, Message, Output, Params, Random, Swim, MAX_LEN};

struct Sink;

impl Output for Sink {
    fn send(&mut self, _to: u32, msg: &Message) {
        let mut b = [0u8; MAX_LEN];
        let n = msg.encode(&mut b);
        assert_eq!(Message::decode(&b[..n]).as_ref(), Ok(msg));
    }
    fn event(&mut self, _node: u32, _event: Event) {}
}

struct Counter(u32);

impl Random for Counter {
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&from, body)) = data.split_first() else {
        return;
    };
    if let Ok(m) = Message::decode(body) {
        let mut b = [0u8; MAX_LEN];
        let n = m.encode(&mut b);
        assert_eq!(&b[..n], body);
        let members: Vec<Member> = (2..=6).map(Member::new).collect();
        let mut s = Swim::new(1, 0, Params::default(), members, 0);
        let mut rng = Counter(u32::from(from));
        s.on_message(u32::from(from % 8), &m, 100, &mut rng, &mut Sink);
        s.tick(300, &mut rng, &mut Sink);
        assert!(s.members().windows(2).all(|w| w[0].node < w[1].node));
    }
});
