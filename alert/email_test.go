package alert

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/alert/alerttest"
	"github.com/pingpanda/pingpanda/state"
)

func TestNewEmailChecksItsOptions(t *testing.T) {
	valid := EmailOptions{SMTP: "smtp://pp:s3cr3t-pw@mail.example.com", From: "PingPanda <pp@example.com>", To: []string{"ops@example.com"}}
	t.Run("the URL forms set TLS and the default port", func(t *testing.T) {
		tests := []struct {
			url  string
			mode emailTLS
			port int
		}{
			{"smtp://mail.example.com", emailSTARTTLS, 587},
			{"smtp://mail.example.com:2525", emailSTARTTLS, 2525},
			{"smtps://mail.example.com", emailImplicit, 465},
			{"smtp://localhost?tls=none", emailNoTLS, 25},
			{"smtp://127.0.0.1:1025?tls=none", emailNoTLS, 1025},
			{"smtp://[::1]?tls=none", emailNoTLS, 25},
		}
		for _, tt := range tests {
			o := valid
			o.SMTP = tt.url
			e, err := NewEmail(o)
			if err != nil || e.mode != tt.mode || e.port != tt.port {
				t.Errorf("%s: %+v, %v", tt.url, e, err)
			}
		}
	})
	problems := []struct {
		name string
		edit func(*EmailOptions)
		want string
	}{
		{"an unknown scheme", func(o *EmailOptions) { o.SMTP = "http://pp:s3cr3t-pw@mail.example.com" }, "the scheme is smtp:// (STARTTLS) or smtps://"},
		{"no host", func(o *EmailOptions) { o.SMTP = "smtp://pp:s3cr3t-pw@" }, "no host"},
		{"tls=none to another machine", func(o *EmailOptions) { o.SMTP = "smtp://pp:s3cr3t-pw@mail.example.com?tls=none" }, "tls=none is only for a relay on this machine"},
		{"tls=none with smtps", func(o *EmailOptions) { o.SMTP = "smtps://localhost?tls=none" }, "contradicts"},
		{"another tls value", func(o *EmailOptions) { o.SMTP = "smtp://localhost?tls=maybe" }, `tls="maybe"`},
		{"an unknown parameter", func(o *EmailOptions) { o.SMTP = "smtp://pp:s3cr3t-pw@mail.example.com?starttls=optional" }, `unknown parameter "starttls"`},
		{"a bad port", func(o *EmailOptions) { o.SMTP = "smtp://pp:s3cr3t-pw@mail.example.com:99999" }, "not a port number"},
		{"a password without a user", func(o *EmailOptions) { o.SMTP = "smtp://:s3cr3t-pw@mail.example.com" }, "a password without a user"},
		{"not a URL", func(o *EmailOptions) { o.SMTP = "smtp://pp:s3cr3t-pw@mail.example.com:x%zz" }, "not a URL"},
		{"a bad from", func(o *EmailOptions) { o.From = "not an address" }, "from"},
		{"no recipient", func(o *EmailOptions) { o.To = nil }, "to: no recipient"},
		{"a bad recipient", func(o *EmailOptions) { o.To = []string{"ops@example.com", "@@"} }, `to "@@"`},
	}
	for _, p := range problems {
		t.Run(p.name+" is an error without the password", func(t *testing.T) {
			o := valid
			p.edit(&o)
			_, err := NewEmail(o)
			if err == nil || !strings.Contains(err.Error(), p.want) {
				t.Fatalf("err %v, want one saying %q", err, p.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	t.Run("the name defaults to email", func(t *testing.T) {
		if e, err := NewEmail(valid); err != nil || e.Name() != "email" {
			t.Errorf("%v, %v", e, err)
		}
	})
}

func TestEmailBodiesMatchGoldenFiles(t *testing.T) {
	for _, kind := range []state.Kind{state.KindDown, state.KindRecovered} {
		m := NewMessage(testEvent(kind), "prober-1")
		html, err := emailHTML(m)
		if err != nil {
			t.Fatal(err)
		}
		for ext, body := range map[string]string{"txt": emailText(m), "html": html} {
			name := "email-" + string(kind) + "." + ext
			t.Run(string(kind)+"'s "+ext+" part is as in "+name, func(t *testing.T) {
				path := filepath.Join(goldenDir, name)
				if *update {
					if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./alert -run Golden -update to create it)", err)
				}
				if body != string(want) {
					t.Errorf("differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, body, want)
				}
			})
		}
	}
	t.Run("the HTML part escapes what the check reported", func(t *testing.T) {
		e := testEvent(state.KindDown)
		e.Message = `body contains "<script>alert(1)</script>" & more`
		html, err := emailHTML(NewMessage(e, "prober-1"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("not escaped:\n%s", html)
		}
	})
}

// testEmail is an Email for the server at addr.
func testEmail(t *testing.T, smtpURL string, srv *alerttest.SMTP) *Email {
	t.Helper()
	o := EmailOptions{Name: "mail", SMTP: smtpURL, From: "PingPanda <pp@example.com>", To: []string{"ops@example.com", "oncall@example.com"}, Timeout: 10 * time.Second}
	if srv != nil {
		o.RootCAs = srv.RootCAs
	}
	e, err := NewEmail(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// parsedMail is a received mail read back.
type parsedMail struct {
	header     mail.Header
	subject    string
	text, html string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a mail: %v\n%s", err, data)
	}
	p := parsedMail{header: msg.Header}
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.text = text
		case "text/html":
			p.html = text
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	return p
}

func TestEmailHeaders(t *testing.T) {
	e := testEmail(t, "smtp://localhost?tls=none", nil)
	down := NewMessage(testEvent(state.KindDown), "prober-1")
	// The recovery of the same incident.
	ev := testEvent(state.KindDown)
	ev.Kind, ev.ID, ev.At = state.KindRecovered, "fedcba9876543210fedcba98", ev.At.Add(time.Hour)
	recovered := NewMessage(ev, "prober-1")
	read := func(m Message) parsedMail {
		msg, err := e.buildMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := msg.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return parseMail(t, b.Bytes())
	}
	d := read(down)
	t.Run("the subject is the alert's title", func(t *testing.T) {
		if d.subject != down.Title {
			t.Errorf("subject %q, want %q", d.subject, down.Title)
		}
	})
	t.Run("the Message-ID comes from the event ID and time, the same every time", func(t *testing.T) {
		want := "<pingpanda.0123456789abcdef01234567.1795489200@example.com>"
		if got := d.header.Get("Message-Id"); got != want || read(down).header.Get("Message-Id") != want {
			t.Errorf("Message-ID %q, want %q", got, want)
		}
		if got := d.header.Get("X-Pingpanda-Event-Id"); got != down.EventID {
			t.Errorf("X-PingPanda-Event-Id %q", got)
		}
	})
	t.Run("a later reminder of the same event ID is another mail", func(t *testing.T) {
		later := down
		later.At = later.At.Add(time.Hour)
		if read(later).header.Get("Message-Id") == d.header.Get("Message-Id") {
			t.Error("same Message-ID")
		}
	})
	t.Run("the date is the event's", func(t *testing.T) {
		if got, err := d.header.Date(); err != nil || !got.Equal(fixedAt) {
			t.Errorf("Date %v, %v; want %v", got, err, fixedAt)
		}
	})
	t.Run("every mail of an incident refers to the same thread", func(t *testing.T) {
		want := "<pingpanda." + down.Event.Incident() + "@example.com>"
		r := read(recovered)
		if d.header.Get("References") != want || r.header.Get("References") != want {
			t.Errorf("References %q and %q, want %q", d.header.Get("References"), r.header.Get("References"), want)
		}
	})
	t.Run("from and to are as configured", func(t *testing.T) {
		if d.header.Get("From") != `"PingPanda" <pp@example.com>` || !strings.Contains(d.header.Get("To"), "oncall@example.com") {
			t.Errorf("From %q To %q", d.header.Get("From"), d.header.Get("To"))
		}
	})
	t.Run("the parts are the text and the HTML", func(t *testing.T) {
		html, _ := emailHTML(down)
		if d.text != emailText(down) || d.html != html {
			t.Errorf("text:\n%q\nwant\n%q\nhtml:\n%s", d.text, emailText(down), d.html)
		}
	})
}

// The tests below deliver to a real SMTP server, aiosmtpd.

func TestEmailDelivers(t *testing.T) {
	m := NewMessage(testEvent(state.KindDown), "prober-1")
	tests := []struct {
		name    string
		opts    alerttest.SMTPOptions
		url     func(addr string) string
		wantTLS bool
	}{
		{"to a loopback relay without TLS", alerttest.SMTPOptions{}, func(a string) string { return "smtp://" + a + "?tls=none" }, false},
		{"with a login to a loopback relay without TLS", alerttest.SMTPOptions{User: "pp", Password: "s3cr3t-pw"},
			func(a string) string { return "smtp://pp:s3cr3t-pw@" + a + "?tls=none" }, false},
		{"with STARTTLS", alerttest.SMTPOptions{TLS: "starttls"}, func(a string) string { return "smtp://" + a }, true},
		{"with STARTTLS and a login", alerttest.SMTPOptions{TLS: "starttls", User: "pp", Password: "s3cr3t-pw"},
			func(a string) string { return "smtp://pp:s3cr3t-pw@" + a }, true},
		{"with implicit TLS and a login", alerttest.SMTPOptions{TLS: "smtps", User: "pp", Password: "s3cr3t-pw"},
			func(a string) string { return "smtps://pp:s3cr3t-pw@" + a }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := alerttest.StartSMTP(t, tt.opts)
			e := testEmail(t, tt.url(srv.Addr), srv)
			if err := e.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Messages(t)
			if len(got) != 1 {
				t.Fatalf("%d mails received, want 1", len(got))
			}
			r := got[0]
			if r.MailFrom != "pp@example.com" || strings.Join(r.RcptTos, ",") != "ops@example.com,oncall@example.com" {
				t.Errorf("envelope from %q to %v", r.MailFrom, r.RcptTos)
			}
			if r.TLS != tt.wantTLS || r.Login != tt.opts.User {
				t.Errorf("session TLS %v login %q, want %v %q", r.TLS, r.Login, tt.wantTLS, tt.opts.User)
			}
			p := parseMail(t, r.Data)
			html, _ := emailHTML(m)
			if p.subject != m.Title || p.text != emailText(m) || p.html != html {
				t.Errorf("subject %q\ntext %q\nhtml %q", p.subject, p.text, p.html)
			}
		})
	}
	t.Run("a retried mail has the same Message-ID", func(t *testing.T) {
		srv := alerttest.StartSMTP(t, alerttest.SMTPOptions{})
		e := testEmail(t, "smtp://"+srv.Addr+"?tls=none", srv)
		for range 2 {
			if err := e.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		got := srv.Messages(t)
		if len(got) != 2 || parseMail(t, got[0].Data).header.Get("Message-Id") != parseMail(t, got[1].Data).header.Get("Message-Id") {
			t.Errorf("%d mails, or their Message-IDs differ", len(got))
		}
	})
	t.Run("a re-sent firing alert is not mailed again", func(t *testing.T) {
		srv := alerttest.StartSMTP(t, alerttest.SMTPOptions{})
		resend := m
		resend.Resend = true
		if err := testEmail(t, "smtp://"+srv.Addr+"?tls=none", srv).Send(context.Background(), resend); err != nil || len(srv.Messages(t)) != 0 {
			t.Errorf("err %v, %d mails", err, len(srv.Messages(t)))
		}
	})
}

func TestEmailFailures(t *testing.T) {
	m := NewMessage(testEvent(state.KindDown), "prober-1")
	const password = "s3cr3t-pw"
	tests := []struct {
		name                        string
		opts                        alerttest.SMTPOptions
		url                         func(addr string) string
		noRoots                     bool // do not trust the test CA
		retryable, rejected, broken bool
		diagnosis                   string
	}{
		{"a wrong password is a broken channel", alerttest.SMTPOptions{TLS: "starttls", User: "pp", Password: "the-right-one"},
			func(a string) string { return "smtp://pp:" + password + "@" + a }, false, false, false, true, "login"},
		{"a recipient refused (550) is rejected", alerttest.SMTPOptions{RcptReply: "550 5.1.1 no such user"},
			func(a string) string { return "smtp://" + a + "?tls=none" }, false, false, true, false, ""},
		{"a recipient deferred (451) is retryable", alerttest.SMTPOptions{RcptReply: "451 4.3.0 try again later"},
			func(a string) string { return "smtp://" + a + "?tls=none" }, false, true, false, false, ""},
		{"a message refused (554) is rejected", alerttest.SMTPOptions{DataReply: "554 5.6.0 content refused"},
			func(a string) string { return "smtp://" + a + "?tls=none" }, false, false, true, false, ""},
		{"a message deferred (452) is retryable", alerttest.SMTPOptions{DataReply: "452 4.3.1 out of storage"},
			func(a string) string { return "smtp://" + a + "?tls=none" }, false, true, false, false, ""},
		{"a server without STARTTLS is a broken channel", alerttest.SMTPOptions{},
			func(a string) string { return "smtp://pp:" + password + "@" + a }, false, false, false, true, "STARTTLS"},
		{"a certificate that does not verify is a broken channel", alerttest.SMTPOptions{TLS: "starttls"},
			func(a string) string { return "smtp://pp:" + password + "@" + a }, true, false, false, true, "certificate"},
		{"smtps to a server without TLS is a broken channel", alerttest.SMTPOptions{},
			func(a string) string { return "smtps://pp:" + password + "@" + a }, false, false, false, true, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := alerttest.StartSMTP(t, tt.opts)
			e := testEmail(t, tt.url(srv.Addr), srv)
			if tt.noRoots {
				e.rootCAs = nil
			}
			err := e.Send(context.Background(), m)
			checkEmailFailure(t, err, tt.retryable, tt.rejected, tt.broken, password)
			var se *SendError
			if errors.As(err, &se) {
				t.Logf("err: %v; diagnosis: %q", err, se.Diagnosis())
			}
			if errors.As(err, &se) && !strings.Contains(se.Diagnosis(), tt.diagnosis) {
				t.Errorf("diagnosis %q, want one about %q", se.Diagnosis(), tt.diagnosis)
			}
			if n := len(srv.Messages(t)); n != 0 {
				t.Errorf("%d mails accepted", n)
			}
		})
	}
	t.Run("a closed port is retryable", func(t *testing.T) {
		addr := strings.TrimPrefix(refusedBase(t), "http://")
		err := testEmail(t, "smtp://pp:"+password+"@"+addr, nil).Send(context.Background(), m)
		checkEmailFailure(t, err, true, false, false, password)
	})
	t.Run("an ended context stops the attempt", func(t *testing.T) {
		srv := alerttest.StartSMTP(t, alerttest.SMTPOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := testEmail(t, "smtp://"+srv.Addr+"?tls=none", srv).Send(ctx, m)
		if !errors.Is(err, context.Canceled) || retryable(err) {
			t.Errorf("err %v", err)
		}
	})
}

func checkEmailFailure(t *testing.T, err error, retry, rejected, broken bool, password string) {
	t.Helper()
	if err == nil {
		t.Fatal("delivered")
	}
	if retryable(err) != retry || errors.Is(err, ErrRejected) != rejected || errors.Is(err, ErrChannelBroken) != broken {
		t.Errorf("err %v: retryable %v, rejected %v, broken %v; want %v %v %v",
			err, retryable(err), errors.Is(err, ErrRejected), errors.Is(err, ErrChannelBroken), retry, rejected, broken)
	}
	var se *SendError
	if !errors.As(err, &se) || se.Provider != "mail" {
		t.Errorf("err %#v is not a *SendError of mail", err)
	}
	for _, text := range errorTexts(err) {
		if strings.Contains(text, password) {
			t.Errorf("the error shows the password: %s", text)
		}
	}
}
