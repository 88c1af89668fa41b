package alerttest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/servertest"
)

// SMTPOptions is how the SMTP server behaves.
type SMTPOptions struct {
	// TLS is "" (plain SMTP, no STARTTLS offered), "starttls" (STARTTLS
	// offered and required before MAIL) or "smtps" (implicit TLS). The
	// certificate is made for 127.0.0.1 and localhost by a test CA: trust
	// it with SMTP.RootCAs.
	TLS string
	// User and Password, when set, are the only credentials AUTH (PLAIN,
	// LOGIN) takes, and AUTH is required. It is offered only over TLS,
	// unless TLS is "".
	User, Password string
	// RcptReply and DataReply, when set, are the server's answer to every
	// RCPT TO and to the end of every DATA, instead of accepting:
	// "550 5.1.1 no such user", "451 4.3.0 try again later".
	RcptReply, DataReply string
}

// SMTP is a running aiosmtpd that keeps every message it accepts.
type SMTP struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// RootCAs trusts the server's certificate (nil without TLS);
	// RootCAsPEM is the same CA as PEM, for a CA file (SSL_CA_FILE).
	RootCAs    *x509.CertPool
	RootCAsPEM []byte

	dir  string // accepted messages, one JSON file each, under new/
	mu   sync.Mutex
	proc *servertest.Process
}

// Received is one accepted message.
type Received struct {
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	Data     []byte   `json:"data"` // as sent, headers and body, CRLF line ends
	TLS      bool     `json:"tls"`  // the session was encrypted
	Login    string   `json:"login"`
	file     string
}

// smtpServer is the server: aiosmtpd's SMTP class with a handler that
// writes each message into a Maildir-like directory (tmp/, then renamed
// into new/), answers RCPT and DATA as configured, and an authenticator
// that takes one user. aiosmtpd's command line can do neither AUTH nor
// scripted answers.
const smtpServer = `import asyncio, base64, json, os, ssl, sys, uuid
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cfg = json.load(open(sys.argv[1]))

def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    return ctx

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if cfg.get("rcpt_reply"):
            return cfg["rcpt_reply"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if cfg.get("data_reply"):
            return cfg["data_reply"]
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        login = session.login_data
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": base64.b64encode(envelope.original_content).decode(),
            "tls": session.ssl is not None or ssl_object is not None,
            "login": login.decode() if isinstance(login, bytes) else (login or ""),
        }
        name = "%d-%s.json" % (len(os.listdir(os.path.join(cfg["dir"], "new"))), uuid.uuid4().hex)
        tmp = os.path.join(cfg["dir"], "tmp", name)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(cfg["dir"], "new", name))
        return "250 2.0.0 Message accepted for delivery"

def authenticator(server, session, envelope, mechanism, auth_data):
    if (isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == cfg["user"]
            and auth_data.password.decode() == cfg["password"]):
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)

def factory():
    kw = {"hostname": "localhost", "auth_require_tls": cfg["tls"] == "starttls"}
    if cfg["tls"] == "starttls":
        kw["tls_context"] = tls_context()
        kw["require_starttls"] = True
    if cfg.get("user"):
        kw["authenticator"] = authenticator
        kw["auth_required"] = True
    return SMTP(Handler(), **kw)

async def main():
    loop = asyncio.get_running_loop()
    kw = {"ssl": tls_context()} if cfg["tls"] == "smtps" else {}
    server = await loop.create_server(factory, "127.0.0.1", cfg["port"], **kw)
    print("listening", flush=True)
    await server.serve_forever()

asyncio.run(main())
`

// StartSMTP runs an SMTP server for the rest of the test.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTP {
	t.Helper()
	bin := lookPath("aiosmtpd")
	if bin == "" {
		servertest.Need(t, "aiosmtpd is not installed (Debian: apt-get install python3-aiosmtpd)")
	}
	python := interpreter(bin)
	dir := t.TempDir()
	s := &SMTP{dir: filepath.Join(dir, "mail")}
	for _, sub := range []string{"tmp", "new"} {
		if err := os.MkdirAll(filepath.Join(s.dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "smtpserver.py")
	if err := os.WriteFile(script, []byte(smtpServer), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"tls": o.TLS, "user": o.User, "password": o.Password,
		"rcpt_reply": o.RcptReply, "data_reply": o.DataReply, "dir": s.dir,
	}
	switch o.TLS {
	case "":
	case "starttls", "smtps":
		cert, key, pool, caPEM := testCertificate(t)
		cfg["cert"], cfg["key"] = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(cfg["cert"].(string), cert, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg["key"].(string), key, 0o600); err != nil {
			t.Fatal(err)
		}
		s.RootCAs, s.RootCAsPEM = pool, caPEM
	default:
		t.Fatalf("alerttest: SMTPOptions.TLS %q is none of \"\", starttls, smtps", o.TLS)
	}
	var lastErr error
	for range 5 {
		port := servertest.FreePort(t)
		cfg["port"] = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfgFile := filepath.Join(dir, "smtpserver.json")
		if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = s.start(python, script, cfgFile); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("aiosmtpd did not start: %v", lastErr)
	return nil
}

// interpreter is the program of bin's #! line (aiosmtpd's Python, which
// has the aiosmtpd module), or python3.
func interpreter(bin string) string {
	f, err := os.Open(bin)
	if err != nil {
		return "python3"
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	if prog, ok := strings.CutPrefix(strings.TrimSpace(line), "#!"); ok {
		if fields := strings.Fields(prog); len(fields) == 1 && strings.Contains(fields[0], "python") {
			return fields[0]
		}
	}
	return "python3"
}

func (s *SMTP) start(python, script, cfgFile string) error {
	proc, err := servertest.Start(python, script, cfgFile)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	ready := func() bool {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return strings.Contains(proc.Output(), "listening")
	}
	if err := proc.WaitReady(15*time.Second, 20*time.Millisecond, ready); err != nil {
		return fmt.Errorf("aiosmtpd on %s: %w", s.Addr, err)
	}
	return nil
}

// Messages is every message accepted so far, in the order accepted.
func (s *SMTP) Messages(t testing.TB) []Received {
	t.Helper()
	dir := filepath.Join(s.dir, "new")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []Received
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var r Received
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		r.file = e.Name()
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Received) int { return seq(a.file) - seq(b.file) })
	return out
}

// seq is the sequence number a message's file name starts with.
func seq(name string) int {
	n, _ := strconv.Atoi(strings.SplitN(name, "-", 2)[0])
	return n
}

// Kill stops the server at once. Calling it again is harmless.
func (s *SMTP) Kill() {
	s.mu.Lock()
	proc := s.proc
	s.proc = nil
	s.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
}

// testCertificate is a server certificate for 127.0.0.1 and localhost,
// valid for an hour either side of now, signed by a CA made for it: the
// certificate and key as PEM, a pool holding the CA, and the CA as PEM.
func testCertificate(t testing.TB) (certPEM, keyPEM []byte, roots *x509.CertPool, caPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alerttest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), roots,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}
