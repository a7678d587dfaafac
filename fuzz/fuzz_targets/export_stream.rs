//! The body of splunkd's `search/jobs/export` (`output_mode=json`, one JSON object a line): rows
//! or an error, never a panic, every row counted, and reading stops when the caller says so.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ta_incode::splunkd::read_export;

fuzz_target!(|data: &[u8]| {
    // A pass stops reading when it has all the interviews it may handle; let the input's length
    // pick where, so both the stopped and the complete read are explored.
    let limit = (data.len() % 5) as u64 + 1;
    let mut seen = 0u64;
    match read_export(data, |row| {
        seen += 1;
        let _ = row.get("interviewId");
        seen < limit
    }) {
        Ok(summary) => {
            assert_eq!(summary.rows, seen);
            assert!(seen <= limit);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
