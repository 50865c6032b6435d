//! An import killed with `kill -9` between batches goes on where it stopped when the same command runs
//! again: every record is imported exactly once and none is half-written. Runs the real binary.

mod killed;

use std::process::Stdio;

use cityloop_store::testing::engines;
use killed::{command, demo_city};
use tokio::io::{AsyncBufReadExt, BufReader};

const RECORDS: usize = 12_000;

/// A Baltimore 311 file of `RECORDS` distinct requests.
fn baltimore_file(path: &std::path::Path) {
    let mut text = String::from(
        "SRRecordID,ServiceRequestNum,SRType,MethodReceived,CreatedDate,SRStatus,StatusDate,DueDate,CloseDate,Agency,\
         LastActivity,LastActivityDate,Outcome,Address,ZipCode,Neighborhood,CouncilDistrict,PoliceDistrict,PolicePost,\
         Latitude,Longitude,GeoLocation,2010 Census Wards Precincts,2010 Census Neighborhood\n",
    );
    for i in 0..RECORDS {
        let day = 1 + i % 28;
        text.push_str(&format!(
            "18-{i:08},18-{i:08},TRT-Traffic Signal Repairs,Phone,04/{day:02}/2018 11:11:26 AM,Open,04/{day:02}/2018 12:45:48 PM,,,\
             Transportation,,,,\"3400 GARRISON BLVD, BALTIMORE, MD, 21215\",21215,Dorchester,6,Northwestern,621,39.3,-76.6,\
             \"(39.3, -76.6)\",,\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn an_import_killed_mid_file_goes_on_and_imports_each_record_once() {
    for backend in engines() {
        let (db, files) = demo_city(backend).await;
        let source = files.path().join("baltimore.csv");
        baltimore_file(&source);
        let indexes = db.store.case_index_names().await.unwrap();
        let import = || {
            let mut c = command(files.path());
            c.args(["import", "baltimore311"]).arg(&source).args(["--batch", "500", "--database", &db.url]);
            c
        };

        // Killed as soon as it reports its first stored batch (it reports each one on stderr).
        let mut first = import().stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true).spawn().unwrap();
        let mut progress = BufReader::new(first.stderr.take().unwrap()).lines();
        let mut stored_before_kill = None;
        while let Some(line) = progress.next_line().await.unwrap() {
            if line.contains("% stored: imported ") {
                first.start_kill().unwrap();
                stored_before_kill = Some(line);
                break;
            }
        }
        let status = first.wait().await.unwrap();
        let line = stored_before_kill.expect("a batch was stored before the import ended");
        assert!(!status.success(), "killed mid-file, after `{line}`");
        let partial = db.store.count_cases().await.unwrap() as usize;
        assert!(partial > 0 && partial < RECORDS, "{partial} of {RECORDS} stored before the kill");
        assert_eq!(partial % 500, 0, "whole batches only: {partial}");
        if backend == cityloop_store::Backend::Sqlite {
            // The load had set the case table's indexes aside; the next start builds them again.
            assert!(db.store.case_index_names().await.unwrap().len() < indexes.len());
        }

        // The same command goes on, and a third run finds nothing new.
        let again = import().output().await.unwrap();
        let said = String::from_utf8_lossy(&again.stdout).to_string();
        assert!(again.status.success(), "{said}{}", String::from_utf8_lossy(&again.stderr));
        assert!(said.contains("went on with the interrupted run"), "{said}");
        assert_eq!(db.store.count_cases().await.unwrap() as usize, RECORDS, "{said}");
        let third = import().output().await.unwrap();
        let said = String::from_utf8_lossy(&third.stdout).to_string();
        assert!(said.contains(&format!("0 imported, {RECORDS} already imported")), "{said}");
        assert_eq!(db.store.count_cases().await.unwrap() as usize, RECORDS);
        assert_eq!(db.store.case_index_names().await.unwrap(), indexes, "every index is there again");
    }
}
