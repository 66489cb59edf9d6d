{"format": "mynapoint-records/1", "file": "P0001_20210105_0003.csv.zst", "sha256": "f99533d7e957c954cb756d71f7f9a8db422141c85ba12e558fb7bfc3cdc7cfb8", "records": 9.0, "amount_total": 62480}
