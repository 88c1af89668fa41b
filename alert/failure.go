package alert

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ErrRejected matches (errors.Is) a failure that no later attempt of the
// same message can fix: the provider refused the message itself — HTTP 400
// Bad Request, 413 Content Too Large, 422 Unprocessable Content — or it
// could not be encoded. The channel works; the caller should drop the
// message (mark it done for that provider) and go on with the next. The
// generic webhook reads every other 4xx but 408 and 429 so too.
var ErrRejected = errors.New("message rejected by the provider")

// ErrChannelBroken matches (errors.Is) a failure that says the channel
// itself is broken, whatever the message: HTTP 401 Unauthorized, 403
// Forbidden, 404 Not Found, 410 Gone (a bad, deleted or revoked webhook),
// a webhook URL that does not parse, a mail server that refuses the
// login or the sender, or for PagerDuty a 400 that blames the routing key.
// No message can get through until
// someone fixes the configuration; the caller should keep the messages
// and stop trying the provider for now. (*SendError).Diagnosis says what
// to fix.
var ErrChannelBroken = errors.New("alert channel broken")

// errInvalidURL is the cause of a SendError for a webhook URL that does
// not parse; its text says nothing of the URL.
var errInvalidURL = &permanentError{"invalid webhook URL"}

// errEncode is the cause of a SendError for a message that cannot be
// encoded as the provider's payload.
func errEncode(err error) error {
	return &permanentError{"encode payload: " + err.Error()}
}

// answerClass is what an HTTP answer means for delivery.
type answerClass uint8

const (
	answerByStatus answerClass = iota // unset: read the status as every provider does
	answerRejected                    // ErrRejected: drop the message
	answerBroken                      // ErrChannelBroken: keep the messages, fix the channel
	answerRetry                       // retryable
	answerKeep                        // none of those: keep it for the next sweep
)

// answer is what e's HTTP answer means: the provider's reading (class)
// if it gave one, else the status's meaning to every provider.
func (e *SendError) answer() answerClass {
	switch {
	case e.class != answerByStatus:
		return e.class
	case rejectedStatus(e.Status):
		return answerRejected
	case brokenStatus(e.Status):
		return answerBroken
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return answerRetry
	}
	return answerKeep
}

// rejectedStatus reports whether an HTTP status refuses the message.
func rejectedStatus(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// brokenStatus reports whether an HTTP status says the channel is broken.
func brokenStatus(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
}

// Is makes errors.Is(err, ErrRejected) and errors.Is(err, ErrChannelBroken)
// true for the failures those sentinels describe.
func (e *SendError) Is(target error) bool {
	switch target {
	case ErrRejected:
		if e.Status != 0 {
			return e.answer() == answerRejected
		}
		var pe *permanentError
		return errors.As(e.Err, &pe) && pe != errInvalidURL
	case ErrChannelBroken:
		if e.Status != 0 {
			return e.answer() == answerBroken
		}
		return e.Err == errInvalidURL
	}
	return false
}

// Diagnosis says, for a broken channel (errors.Is(e, ErrChannelBroken)),
// what its answer means, naming the provider, for an operator to act on:
// "the Slack webhook answered HTTP 404: the webhook was deleted or its URL
// is wrong". It is "" for other failures. It never contains the URL.
func (e *SendError) Diagnosis() string {
	if !errors.Is(e, ErrChannelBroken) {
		return ""
	}
	switch e.providerType() {
	case "pagerduty":
		return pagerDutyDiagnosis(e)
	case "webhook":
		return webhookDiagnosis(e)
	}
	what := "the " + ProviderTitle(e.Provider) + " webhook"
	var why string
	switch e.Status {
	case 0:
		var d interface{ diagnosis() string }
		if errors.As(e.Err, &d) {
			return "channel " + e.Provider + ": " + d.diagnosis()
		}
		return what + " URL does not parse"
	case http.StatusUnauthorized:
		why = "its token is invalid or was revoked"
	case http.StatusForbidden:
		why = "it may not post: it was revoked, or its app or workflow lost access to the channel"
	case http.StatusNotFound:
		why = "the webhook was deleted or its URL is wrong"
	case http.StatusGone:
		why = "the webhook or its channel is gone (deleted or archived)"
	}
	return fmt.Sprintf("%s answered HTTP %d: %s", what, e.Status, why)
}

// providerType is e's provider type: Type, or Provider when Type is not
// set.
func (e *SendError) providerType() string {
	if e.Type != "" {
		return e.Type
	}
	return e.Provider
}

// channelTitle is how a diagnosis names the channel of a provider whose
// channels may be named: "the PagerDuty channel", and its name after it
// when that is not the type's (`the PagerDuty channel "pager"`).
func (e *SendError) channelTitle(title string) string {
	what := "the " + title + " channel"
	if e.Provider != "" && e.Provider != e.providerType() {
		what += fmt.Sprintf(" %q", e.Provider)
	}
	return what
}

// ProviderTitle is a provider's name as people write it: "Slack",
// "Microsoft Teams", "Discord", "PagerDuty"; an unknown name is returned
// as it is.
func ProviderTitle(provider string) string {
	switch provider {
	case "pagerduty":
		return "PagerDuty"
	case "slack":
		return "Slack"
	case "teams":
		return "Microsoft Teams"
	case "discord":
		return "Discord"
	}
	return provider
}

// ParseSendError reads back the provider and the HTTP status from the text
// of a *SendError (as an outbox entry's last error keeps it), with or
// without Retry's "after N attempts: " in front; a webhook URL that did not
// parse is recognised too. Only those fields are set, so errors.Is with
// ErrRejected or ErrChannelBroken and Diagnosis work on the result. It
// returns nil for a text that is not a SendError's with a provider and a
// status (or the invalid URL).
func ParseSendError(text string) *SendError {
	if _, rest, ok := strings.Cut(text, " attempts: "); ok && strings.HasPrefix(text, "after ") {
		text = rest
	}
	provider, rest, ok := strings.Cut(text, ": ")
	if !ok || provider == "" || strings.ContainsAny(provider, " :") {
		return nil
	}
	if rest == errInvalidURL.msg {
		return &SendError{Provider: provider, Err: errInvalidURL}
	}
	digits, ok := strings.CutPrefix(rest, "webhook answered HTTP ")
	if !ok || len(digits) < 3 {
		return nil
	}
	status, err := strconv.Atoi(digits[:3])
	if err != nil || status < 100 || (len(digits) > 3 && digits[3] != ' ' && digits[3] != ':') {
		return nil
	}
	return &SendError{Provider: provider, Status: status}
}
