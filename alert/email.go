package alert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// EmailOptions configures an email channel.
type EmailOptions struct {
	// Name is the channel's name; "" is "email".
	Name string
	// SMTP is the mail server's URL, a secret when it holds a password:
	//
	//   smtp://[user:password@]host[:port]       STARTTLS, required (port 587)
	//   smtps://[user:password@]host[:port]      implicit TLS (port 465)
	//   smtp://[user:password@]localhost[:port]?tls=none
	//                                            no TLS at all (port 25): only
	//                                            to a relay on this machine
	//
	// With a user, the login is PLAIN or LOGIN (or a stronger mechanism
	// the server offers), and only ever over TLS, or to the loopback
	// relay of tls=none. The user and password are URL-escaped.
	SMTP string
	// From is the sender's address ("PingPanda <pp@example.com>" or
	// "pp@example.com"); To the recipients', at least one.
	From string
	To   []string
	// RootCAs verifies the server's certificate; nil: the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds one attempt (connection, TLS, login and delivery)
	// when ctx ends no sooner; 0: 30 s.
	Timeout time.Duration
}

// emailTLS is how the connection to the mail server is encrypted.
type emailTLS int

const (
	emailSTARTTLS emailTLS = iota // smtp://: STARTTLS, required
	emailImplicit                 // smtps://: TLS from the first byte
	emailNoTLS                    // smtp://…?tls=none to a loopback relay
)

// Email sends alerts as mail through an SMTP server: the subject is the
// alert's title, the body a plain-text part and an HTML part with the
// same facts. A message has a Message-ID derived from its event ID and
// time, so a retried delivery is recognisably the same mail, and every
// mail of one incident (down, its reminders, its recovery) has the same
// References, so mail clients thread them.
//
// Send makes one attempt: one connection, one mail to every recipient.
// A server's refusal of a recipient or of the message (5xx to RCPT or
// DATA) is ErrRejected; a refused login, a sender the server will not
// take, a server without STARTTLS and a certificate that does not verify
// are ErrChannelBroken; 4xx answers and network failures are retryable.
// No error contains the password.
type Email struct {
	name       string
	host       string
	port       int
	mode       emailTLS
	user, pass string
	auth       bool
	from       string
	to         []string
	domain     string // of From, for the Message-IDs
	rootCAs    *x509.CertPool
	timeout    time.Duration
	scrub      secret.Scrubber
}

var _ Notifier = (*Email)(nil)

// NewEmail checks o and returns an Email notifier. Its errors name the
// field and never contain the password.
func NewEmail(o EmailOptions) (*Email, error) {
	e := &Email{name: o.Name, rootCAs: o.RootCAs, timeout: o.Timeout}
	if e.name == "" {
		e.name = "email"
	}
	if e.timeout <= 0 {
		e.timeout = defaultTimeout
	}
	if err := e.parseSMTP(o.SMTP); err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("from %q: not a mail address: %w", o.From, err)
	}
	e.from = from.String()
	_, e.domain, _ = strings.Cut(from.Address, "@")
	if len(o.To) == 0 {
		return nil, errors.New("to: no recipient")
	}
	for _, to := range o.To {
		a, err := mail.ParseAddress(to)
		if err != nil {
			return nil, fmt.Errorf("to %q: not a mail address: %w", to, err)
		}
		e.to = append(e.to, a.String())
	}
	return e, nil
}

// parseSMTP reads the SMTP URL into e.
func (e *Email) parseSMTP(raw string) error {
	shown := secret.URL(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return fmt.Errorf("smtp %q: not a URL", shown)
	}
	switch u.Scheme {
	case "smtp":
		e.mode, e.port = emailSTARTTLS, 587
	case "smtps":
		e.mode, e.port = emailImplicit, 465
	default:
		return fmt.Errorf("smtp %q: the scheme is smtp:// (STARTTLS) or smtps:// (implicit TLS)", shown)
	}
	e.host = u.Hostname()
	if e.host == "" {
		return fmt.Errorf("smtp %q: no host", shown)
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return fmt.Errorf("smtp %q: unknown parameter %q (the only one is tls=none)", shown, k)
		}
	}
	switch v := q.Get("tls"); {
	case !q.Has("tls"):
	case v == "none" && e.mode == emailSTARTTLS:
		if !loopback(e.host) {
			return fmt.Errorf("smtp %q: tls=none is only for a relay on this machine (localhost, 127.0.0.1, ::1): use STARTTLS (smtp://) or implicit TLS (smtps://)", shown)
		}
		e.mode, e.port = emailNoTLS, 25
	case v == "none":
		return fmt.Errorf("smtp %q: smtps:// is TLS: tls=none contradicts it", shown)
	default:
		return fmt.Errorf("smtp %q: tls=%q: the only value is none", shown, v)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("smtp %q: port %q is not a port number", shown, p)
		}
		e.port = n
	}
	if u.User != nil {
		e.auth = true
		e.user = u.User.Username()
		e.pass, _ = u.User.Password()
		if e.user == "" {
			return fmt.Errorf("smtp %q: a password without a user", shown)
		}
	}
	secrets := secret.BasicAuth(e.user, e.pass)
	if e.pass != "" {
		secrets = append(secrets,
			base64.StdEncoding.EncodeToString([]byte("\x00"+e.user+"\x00"+e.pass)), // AUTH PLAIN
			base64.StdEncoding.EncodeToString([]byte(e.pass)))                      // AUTH LOGIN
	}
	e.scrub = secret.NewScrubber(secrets...)
	return nil
}

// loopback reports whether host is this machine: localhost or a loopback
// address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name is the channel's name, "email" unless the options gave one.
func (e *Email) Name() string { return e.name }

// Send makes one attempt to mail m to every recipient. A re-sent firing
// alert (m.Resend) is not mailed again: it was, when it began.
func (e *Email) Send(ctx context.Context, m Message) error {
	if m.Resend {
		return nil
	}
	msg, err := e.buildMessage(m)
	if err != nil {
		return &SendError{Provider: e.name, Err: errEncode(err)}
	}
	timeout := e.timeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(min(timeout, time.Until(deadline)), time.Millisecond)
	}
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	tlsConfig := &tls.Config{ServerName: e.host, RootCAs: e.rootCAs, MinVersion: tls.VersionTLS12}
	// The dialer closes the connection when ctx ends, which go-mail's
	// own does not do once connected.
	// (It is given a context of go-mail's that ends with the dial.)
	dial := func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		if e.mode == emailImplicit {
			conn, err = (&tls.Dialer{Config: tlsConfig}).DialContext(dialCtx, network, addr)
		} else {
			conn, err = (&net.Dialer{}).DialContext(dialCtx, network, addr)
		}
		if err == nil {
			stop = context.AfterFunc(ctx, func() { conn.Close() })
		}
		return conn, err
	}
	opts := []gomail.Option{
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tlsConfig),
		gomail.WithDialContextFunc(dial),
	}
	switch e.mode {
	case emailSTARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case emailImplicit:
		opts = append(opts, gomail.WithSSL())
	case emailNoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if e.auth {
		// PLAIN and LOGIN refuse themselves on a connection without
		// TLS to anything but localhost; the mechanisms stronger than
		// them are taken when the server offers nothing else.
		opts = append(opts, gomail.WithUsername(e.user), gomail.WithPassword(e.pass),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	opts = append(opts, gomail.WithPort(e.port))
	client, err := gomail.NewClient(e.host, opts...)
	if err != nil {
		return &SendError{Provider: e.name, Err: &permanentError{"smtp client: " + e.scrub.String(err.Error())}}
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The server took it; a failure after that (QUIT) changes
		// nothing, and a retry would mail it twice.
		return nil
	}
	if err == nil {
		return &SendError{Provider: e.name, Err: errors.New("smtp: the mail was not delivered")}
	}
	if ctx.Err() != nil {
		return &SendError{Provider: e.name, Err: ctx.Err()}
	}
	return &SendError{Provider: e.name, Err: e.failure(err)}
}

// messageID is the Message-ID (without its angle brackets) of the mail
// about event id, which happened at at: the same for every attempt to
// deliver it, and different for each of an incident's reminders (which
// share an event ID).
func (e *Email) messageID(id string, at time.Time) string {
	return "pingpanda." + id + "." + strconv.FormatInt(at.Unix(), 10) + "@" + e.domain
}

// threadID is the Message-ID every mail of an incident refers to
// (References), so that mail clients thread them: no mail has it.
func (e *Email) threadID(incident string) string {
	return "pingpanda." + incident + "@" + e.domain
}

// buildMessage is the mail for m.
func (e *Email) buildMessage(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(e.from); err != nil {
		return nil, err
	}
	if err := msg.To(e.to...); err != nil {
		return nil, err
	}
	msg.Subject(m.Title)
	if m.At.IsZero() {
		msg.SetDate()
	} else {
		msg.SetDateWithValue(m.At)
	}
	if m.EventID == "" {
		msg.SetMessageID()
	} else {
		msg.SetMessageIDWithValue(e.messageID(m.EventID, m.At))
		msg.SetGenHeader("X-PingPanda-Event-Id", m.EventID)
	}
	if m.Event.TargetID != "" {
		msg.SetGenHeader(gomail.HeaderReferences, "<"+e.threadID(m.Event.Incident())+">")
	}
	msg.SetUserAgent("PingPanda")
	html, err := emailHTML(m)
	if err != nil {
		return nil, err
	}
	msg.SetBodyString(gomail.TypeTextPlain, emailText(m))
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	return msg, nil
}

// emailText is the plain-text body: the title, then the facts.
func emailText(m Message) string {
	return m.Title + "\n\n" + m.Text + "\n"
}

// emailColors are the title's colour by severity (Slack's good, danger
// and warning).
var emailColors = map[Severity]string{
	SeverityGood:    "#2eb886",
	SeverityDanger:  "#a30200",
	SeverityWarning: "#daa038",
}

// emailHTML is the HTML body: the title and a table of the facts, every
// value escaped. It is written out rather than with html/template, whose
// reflection keeps the linker from dropping unused methods and doubled
// the Lambda binary (16 MB to 32 MB).
func emailHTML(m Message) (string, error) {
	color, ok := emailColors[m.Severity]
	if !ok {
		color = emailColors[SeverityWarning]
	}
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>" + esc(m.Title) + "</title></head>\n")
	b.WriteString("<body style=\"font-family: sans-serif\">\n<h2 style=\"color: " + color + "\">" + esc(m.Title) + "</h2>\n")
	b.WriteString("<table style=\"border-collapse: collapse\">")
	for _, f := range m.Facts {
		b.WriteString("\n<tr><th style=\"text-align: left; padding: 2px 16px 2px 0\">" + esc(f.Name) + "</th><td style=\"padding: 2px 0\">" + esc(f.Value) + "</td></tr>")
	}
	b.WriteString("\n</table>\n<p style=\"color: #888888; font-size: small\">Sent by PingPanda.</p>\n</body>\n</html>\n")
	return b.String(), nil
}

// emailAuthCodes are the answers that refuse a login: 530 (required),
// 534 (mechanism too weak), 535 (invalid credentials).
var emailAuthCodes = []int{530, 534, 535}

// smtpFailureKind is what a failure says of the channel.
type smtpFailureKind int

const (
	smtpTemporary smtpFailureKind = iota // retryable
	smtpRejected                         // this mail: ErrRejected
	smtpBroken                           // the channel: ErrChannelBroken
)

// smtpError is the cause of a failed mail's SendError. Its text is
// go-mail's, without the password.
type smtpError struct {
	kind smtpFailureKind
	msg  string
	// why says, for a broken channel, what to fix.
	why string
}

func (e *smtpError) Error() string { return e.msg }

// Is makes errors.Is match the sentinel of e's kind, and errPermanent
// (not retryable) for a rejected mail or a broken channel.
func (e *smtpError) Is(target error) bool {
	switch target {
	case ErrRejected:
		return e.kind == smtpRejected
	case ErrChannelBroken:
		return e.kind == smtpBroken
	case errPermanent:
		return e.kind != smtpTemporary
	}
	return false
}

func (e *smtpError) diagnosis() string { return e.why }

// failure classifies err, go-mail's failure to deliver.
func (e *Email) failure(err error) *smtpError {
	text := e.scrub.String(err.Error())
	f := &smtpError{msg: truncateBytes("smtp "+net.JoinHostPort(e.host, strconv.Itoa(e.port))+": "+text, maxErrorBody)}
	var se *gomail.SendError
	var pe *textproto.Error
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &se) && se.ErrorCode() != 0:
		switch {
		case se.ErrorCode() < 500:
		case se.Reason == gomail.ErrSMTPMailFrom:
			f.kind, f.why = smtpBroken, "the mail server refuses the sender (MAIL FROM): check from, and that the login may send as it"
		default:
			f.kind = smtpRejected
		}
	case errors.As(err, &pe):
		// Before any mail: the greeting, EHLO, STARTTLS or the login.
		if pe.Code >= 500 {
			f.kind = smtpBroken
			f.why = fmt.Sprintf("the mail server refused the login (%d): check the user and password in the smtp URL", pe.Code)
			if !slices.Contains(emailAuthCodes, pe.Code) {
				f.why = fmt.Sprintf("the mail server answered %d before any mail was sent", pe.Code)
			}
		}
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci):
		f.kind, f.why = smtpBroken, "the mail server's certificate does not verify for "+e.host
	case errors.As(err, &rh):
		f.kind, f.why = smtpBroken, "the mail server does not speak TLS on this port: smtps:// is implicit TLS (port 465), smtp:// STARTTLS (587)"
	case strings.Contains(text, "does not support STARTTLS"):
		f.kind, f.why = smtpBroken, "the mail server does not offer STARTTLS: use smtps:// if it takes implicit TLS"
	case errors.Is(err, gosmtp.ErrUnencrypted), strings.Contains(text, "does not support SMTP AUTH"),
		errors.Is(err, gomail.ErrNoSupportedAuthDiscovered):
		f.kind, f.why = smtpBroken, "the mail server offers no login PingPanda can use on this connection"
	}
	return f
}
