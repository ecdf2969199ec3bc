package catalog

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseRealBarmanCloudBackupInfo(t *testing.T) {
	data, err := os.ReadFile("testdata/barman-cloud-3.4-pg15.backup.info")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseBackupInfo(data, "backup.info")
	if err != nil {
		t.Fatalf("ParseBackupInfo(real file) = %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"status", info.Status, "DONE"},
		{"backup_name", info.BackupName, "b1-tl1"},
		{"begin_wal", info.BeginWAL, "000000010000000000000003"},
		{"end_wal", info.EndWAL, "000000010000000000000003"},
		{"begin_xlog", info.BeginLSN.String(), "0/3000028"},
		{"end_xlog", info.EndLSN.String(), "0/3000100"},
		{"systemid", info.SystemID, "7711791324110535382"},
		{"begin_time", info.BeginTime.Format(time.RFC3339Nano), "2026-11-24T17:29:00.034853Z"},
		{"segment size", info.SegmentSize.String(), "16 MiB"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if info.Timeline != 1 || info.Version != 150018 {
		t.Errorf("timeline %d version %d", info.Timeline, info.Version)
	}
	if !strings.HasPrefix(info.BackupLabel, "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nCHECKPOINT") {
		t.Errorf("backup_label not decoded: %q", info.BackupLabel)
	}
	if info.Present["size"] || info.Raw["size"] != "None" {
		t.Errorf("size=None: present %v raw %q", info.Present["size"], info.Raw["size"])
	}
	if len(info.Missing()) != 0 {
		t.Errorf("Missing() = %v", info.Missing())
	}
}

func TestParseBackupInfoAcceptsWhatBarmanWrites(t *testing.T) {
	in := "\ufeff# written by hand\r\n" +
		"backup_label=\"it's \\\"quoted\\\"\\n\\x41\\u00e9\\101\"\r\n" +
		"tablespaces=[('tbs1', 16387, '/var/lib/tbs1'), ('tbs2', 16388, '/var/lib/tbs2')]\n" +
		"copy_stats={'total_time': 5.5, 'nested': {'a': [1, 2.5e3, None, True]}}\n" +
		"included_files=None\n" +
		"  status = DONE  \n" +
		"custom_key=kept as is = with equals\n" +
		"end_time=2026-02-05T02:00:01+01:00\n" +
		"\n"
	info, err := ParseBackupInfo([]byte(in), "b")
	if err != nil {
		t.Fatalf("ParseBackupInfo = %v", err)
	}
	if info.BackupLabel != "it's \"quoted\"\nAéA" {
		t.Errorf("backup_label = %q", info.BackupLabel)
	}
	if info.Status != "DONE" || info.Raw["custom_key"] != "kept as is = with equals" {
		t.Errorf("status %q custom %q", info.Status, info.Raw["custom_key"])
	}
	if got := info.EndTime.Format(time.RFC3339); got != "2026-02-05T01:00:01Z" {
		t.Errorf("end_time = %s", got)
	}
}

func TestParseBackupInfoRejectsNonsense(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"no equals", "status=DONE\ntimeline\n", "b:2: \"timeline\" is not a key=value line"},
		{"bad int", "timeline=one\n", `b:1: key "timeline"`},
		{"timeline zero", "timeline=0\n", "timeline 0"},
		{"bad lsn", "end_xlog=3000100\n", "not of the form X/Y"},
		{"bad wal", "begin_wal=00000001000000000000003\n", "not a WAL segment name"},
		{"bad time", "begin_time=yesterday\n", `b:1: key "begin_time"`},
		{"bad systemid", "systemid=-7\n", "system identifier"},
		{"bad segment size", "xlog_segment_size=1000\n", "power of two"},
		{"duplicate", "status=DONE\nstatus=FAILED\n", `b:2: key "status" is set twice (first on line 1)`},
		{"binary", "status=DONE\n\x00\x01\x02\xff\n", "b:2: binary data"},
		{"bad key", "Status Code=DONE\n", "not a backup.info key"},
		{"bad literal", "backup_label='unterminated\n", "unterminated string"},
		{"label not string", "backup_label=[1]\n", "quoted string was expected"},
		{"deep literal", "copy_stats=" + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n", "nested deeper"},
		{"huge", "status=DONE\n" + strings.Repeat("#", MaxBackupInfoSize), "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseBackupInfo([]byte(c.in), "b")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseBackupInfo(%q) = %v, want an error containing %q", clip(c.in), err, c.want)
			}
		})
	}
}

func TestNaiveTimeIsReadAsUTCWithAWarning(t *testing.T) {
	info, err := ParseBackupInfo([]byte("end_time=2026-02-05 02:00:01\n"), "b")
	if err != nil {
		t.Fatal(err)
	}
	if info.EndTime != time.Date(2026, 2, 5, 2, 0, 1, 0, time.UTC) || len(info.Warnings) != 1 {
		t.Errorf("end_time %v warnings %v", info.EndTime, info.Warnings)
	}
}

func TestMissingEssentialKeys(t *testing.T) {
	info, err := ParseBackupInfo([]byte("status=DONE\nbegin_wal=None\n"), "b")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(info.Missing(), ",")
	if got != "begin_time,begin_wal,begin_xlog,end_time,end_wal,end_xlog,systemid,timeline" {
		t.Errorf("Missing() = %s", got)
	}
}
