// SPDX-License-Identifier: GPL-2.0
//! Process images: a record stream is read until the first refusal, never panicking; accepted
//! pages always lie inside an area declared before them and below the end of user space; so do
//! an incremental checkpoint's pages taken from its parent, which only its own reader accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcore::image::{ImageReader, Record, RecordHeader, RECORD_HEADER_LEN, TASK_SIZE};

fuzz_target!(|data: &[u8]| {
    read(data, false);
    read(data, true);
});

fn read(data: &[u8], incremental: bool) {
    let mut reader = Box::new(if incremental {
        ImageReader::incremental()
    } else {
        ImageReader::new()
    });
    let mut areas: Vec<(u64, u64)> = Vec::new();
    let mut rest = data;
    while let Ok(h) = RecordHeader::decode(rest) {
        let body = &rest[RECORD_HEADER_LEN..];
        let Some(body) = body.get(..h.len as usize) else {
            break;
        };
        match reader.feed(h, body) {
            Ok(Record::Vma(v)) => {
                assert!(v.start < v.end && v.end <= TASK_SIZE);
                areas.push((v.start, v.end));
            }
            Ok(Record::Pages { addr, data }) => {
                let end = addr + data.len() as u64;
                assert!(areas.iter().any(|&(s, e)| s <= addr && end <= e));
            }
            Ok(Record::Parent { addr, pages }) => {
                assert!(incremental && pages > 0);
                let end = addr + u64::from(pages) * 4096;
                assert!(areas.iter().any(|&(s, e)| s <= addr && end <= e));
            }
            Ok(_) => {}
            Err(_) => break,
        }
        rest = &rest[RECORD_HEADER_LEN + h.len as usize..];
    }
}
