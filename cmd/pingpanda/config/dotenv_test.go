package config

import (
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name string
		line string
		key  string
		want string
	}{
		{"a plain value", "DOMAINS=a.com,b.com", "DOMAINS", "a.com,b.com"},
		{"blanks around key and value are dropped", "  DOMAINS =  a.com  ", "DOMAINS", "a.com"},
		{"an export prefix is accepted", "export INTERVAL=30", "INTERVAL", "30"},
		{"a comment after an unquoted value is dropped", "RETRY_COUNT=3 # three tries", "RETRY_COUNT", "3"},
		{"a hash inside an unquoted value is kept", "SLACK_CHANNEL=#ops", "SLACK_CHANNEL", "#ops"},
		{"single quotes are literal", `SLACK_CHANNEL='#ops \n $x' # c`, "SLACK_CHANNEL", `#ops \n $x`},
		{"double quotes take escapes", `MSG="a\"b\\c\nd"`, "MSG", "a\"b\\c\nd"},
		{"an empty value is empty", "CHECK_WEBSITE=", "CHECK_WEBSITE", ""},
		{"an equals sign in a value is kept", "URL=https://x.test/?a=b", "URL", "https://x.test/?a=b"},
		{"a byte order mark is ignored", "\ufeffDOMAINS=x", "DOMAINS", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := parseEnvFile(strings.NewReader("# header\n\n"+tt.line+"\n"), "f.env")
			if strings.HasPrefix(tt.line, "\ufeff") {
				entries, err = parseEnvFile(strings.NewReader(tt.line+"\n"), "f.env")
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Key != tt.key || entries[0].Value != tt.want {
				t.Fatalf("entries = %+v; want %s=%q", entries, tt.key, tt.want)
			}
		})
	}
}

func TestParseEnvFileReportsEveryBadLine(t *testing.T) {
	in := "OK=1\nno equals\nX=\"open\nY='open\n"
	entries, err := parseEnvFile(strings.NewReader(in), "f.env")
	want := "f.env:2: \"no equals\" is not KEY=value\n" +
		"f.env:3: X: missing closing \" (multi-line values are not supported)\n" +
		"f.env:4: Y: missing closing ' (multi-line values are not supported)"
	if err == nil || err.Error() != want {
		t.Fatalf("error =\n%v\nwant\n%s", err, want)
	}
	if len(entries) != 1 || entries[0].Key != "OK" {
		t.Errorf("the good line should still be read: %+v", entries)
	}
}

// FuzzParseEnvFile checks that no input panics, that every key read is a
// valid key, and that a value written back double-quoted reads the same.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B='x y' # c\n", `C="a\"b\n"`, "D=#e\n", "=x\n", "\ufeffE=\"\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, _ := parseEnvFile(strings.NewReader(in), "fuzz.env")
		for _, e := range entries {
			if !validEnvKey(e.Key) {
				t.Fatalf("read invalid key %q", e.Key)
			}
			if strings.Contains(e.Value, "\n") && !strings.Contains(in, `\n`) {
				t.Fatalf("value %q spans lines", e.Value)
			}
			quoted := e.Key + "=" + quoteDouble(e.Value) + "\n"
			again, err := parseEnvFile(strings.NewReader(quoted), "again.env")
			if err != nil || len(again) != 1 || again[0].Value != e.Value {
				t.Fatalf("%q written as %q reads back as %+v, %v", e.Value, quoted, again, err)
			}
		}
	})
}

// quoteDouble writes a value in the double-quoted form parseEnvFile reads.
func quoteDouble(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}
