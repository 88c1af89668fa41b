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
	rf, err := OpenRotating(path, 100, 2)
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
	rf, err := OpenRotating(path, 10, 0)
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
