package logfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
)

func TestRotatingFileKeepsBackupCountFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pp.log")
	rf, err := OpenRotating(path, RotatingOptions{MaxSize: 100, Backups: 2})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 59) + "\n" // 60 bytes: one line per file
	for i := 0; i < 5; i++ {
		if _, err := rf.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "pp.log*"))
	var got []string
	for _, n := range names {
		got = append(got, filepath.Base(n))
		if st, _ := os.Stat(n); st.Size() > 100 {
			t.Errorf("%s is %d bytes, over the 100-byte limit", n, st.Size())
		}
	}
	if strings.Join(got, " ") != "pp.log pp.log.1 pp.log.2" {
		t.Fatalf("files = %v; want the log and 2 backups", got)
	}
}

func TestRotatingFileWithNoBackupsStartsAfresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pp.log")
	rf, err := OpenRotating(path, RotatingOptions{MaxSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	rf.Write([]byte("0123456789"))
	rf.Write([]byte("abc"))
	rf.Close()
	if b, _ := os.ReadFile(path); string(b) != "abc" {
		t.Fatalf("log = %q, want only the newest write", b)
	}
}

func TestEveryNewFileStartsWithTheHeaderAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.csv")
	header := []byte("a,b\n")
	rf, err := OpenRotating(path, RotatingOptions{MaxSize: 12, Backups: 3, Header: header})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []string{"1,2\n3,4\n", "5,6\n", "7,8\n9,0\n"} { // 8, 4, 8 bytes
		if _, err := rf.Write([]byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	rf.Close()
	want := map[string]string{
		"stats.csv.1": "a,b\n5,6\n", // 4+4, and 8 more would pass 12
		"stats.csv":   "a,b\n7,8\n9,0\n",
		"stats.csv.2": "a,b\n1,2\n3,4\n",
	}
	names, _ := filepath.Glob(filepath.Join(dir, "stats.csv*"))
	if len(names) != len(want) {
		t.Fatalf("files = %v; want %d", names, len(want))
	}
	for name, content := range want {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != content {
			t.Errorf("%s = %q, want %q", name, b, content)
		}
	}
}

func TestAFileHoldingOnlyTheHeaderIsNeverRotated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.csv")
	rf, err := OpenRotating(path, RotatingOptions{MaxSize: 8, Backups: 3, Header: []byte("a,b\n")})
	if err != nil {
		t.Fatal(err)
	}
	rf.Write([]byte("a record longer than the limit\n"))
	rf.Close()
	if names, _ := filepath.Glob(filepath.Join(dir, "stats.csv.*")); len(names) != 0 {
		t.Errorf("backups %v; want none: the only rotation would have kept a file of the header alone", names)
	}
	if b, _ := os.ReadFile(path); string(b) != "a,b\na record longer than the limit\n" {
		t.Errorf("file = %q", b)
	}
}

func TestAnExistingFileWithTheHeaderIsAppendedTo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.csv")
	os.WriteFile(path, []byte("a,b\n1,2\n"), 0o644)
	rf, err := OpenRotating(path, RotatingOptions{MaxSize: 1 << 20, Backups: 1, Header: []byte("a,b\n")})
	if err != nil {
		t.Fatal(err)
	}
	rf.Write([]byte("3,4\n"))
	rf.Close()
	if b, _ := os.ReadFile(path); string(b) != "a,b\n1,2\n3,4\n" {
		t.Errorf("file = %q; want the header once and both records", b)
	}
}

func TestAnExistingFileWithAnotherHeaderIsRotatedAway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.csv")
	old := "time,id\n2026-11-24T03:00:00Z,dns:example.com\n"
	os.WriteFile(path, []byte(old), 0o644)
	rf, err := OpenRotating(path, RotatingOptions{MaxSize: 1 << 20, Backups: 1, Header: []byte("time,id,flapping\n")})
	if err != nil {
		t.Fatal(err)
	}
	rf.Write([]byte("2026-11-24T03:01:00Z,dns:example.com,false\n"))
	rf.Close()
	if b, _ := os.ReadFile(path + ".1"); string(b) != old {
		t.Errorf("backup = %q; want the old file untouched", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "time,id,flapping\n2026-11-24T03:01:00Z,dns:example.com,false\n" {
		t.Errorf("file = %q; want the new header and the new record", b)
	}
}

func TestLogFormat(t *testing.T) {
	tests := []struct {
		name     string
		format   string
		terminal bool
		wantJSON bool
	}{
		{"auto is text on a terminal", "auto", true, false},
		{"auto is JSON off a terminal", "auto", false, true},
		{"json is JSON on a terminal", "json", true, true},
		{"text is text off a terminal", "text", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, _, err := New(config.Log{Format: tt.format, ToTerminal: true}, &buf, tt.terminal)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("hello", "k", "v")
			if got := strings.HasPrefix(buf.String(), "{"); got != tt.wantJSON {
				t.Errorf("JSON = %v, want %v: %q", got, tt.wantJSON, buf.String())
			}
		})
	}
}

func TestLogToFileWritesJSONBesideTheTerminal(t *testing.T) {
	var term bytes.Buffer
	path := filepath.Join(t.TempDir(), "logs", "pp.log")
	log, closer, err := New(config.Log{Format: "text", ToTerminal: true, ToFile: true, Path: path, MaxSize: 1 << 20, BackupCount: 1}, &term, true)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("disk says hi")
	closer.Close()
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), `"msg":"disk says hi"`) || !strings.Contains(term.String(), "msg=\"disk says hi\"") {
		t.Fatalf("file %q (%v), terminal %q", b, err, term.String())
	}
}
