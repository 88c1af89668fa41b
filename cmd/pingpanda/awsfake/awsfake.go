// Package awsfake is a test double of the three AWS APIs pingpanda's
// references read (SSM GetParameter, Secrets Manager GetSecretValue, S3
// GetObject), served on loopback, for the tests of the packages that
// resolve references. It is imported by tests only.
package awsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// KeyID is the access key id of the tests' static credentials; the
// fake refuses a request not signed with it.
const KeyID = "AKIDPINGPANDATEST"

// Fake is an httptest server on loopback speaking just enough of three
// AWS APIs: SSM GetParameter and Secrets Manager GetSecretValue (JSON 1.1
// protocol, X-Amz-Target) and S3 GetObject (REST, path-style). It checks
// every request's SigV4 signature and refuses a bad one. Names
// listed in Denied get AccessDenied; a name in Throttle is answered
// ThrottlingException that many times first.
type Fake struct {
	t   *testing.T
	Srv *httptest.Server

	Params, Secrets map[string]string
	Objects         map[string][]byte // "bucket/key"
	Denied          map[string]bool
	KMSDenied       map[string]bool

	Mu       sync.Mutex
	Throttle map[string]int
	requests int
	unsigned int      // requests without SigV4 by KeyID
	seen     []string // "ssm /name", "secretsmanager id", "s3 bucket/key"
}

// New starts a Fake that t stops.
func New(t *testing.T) *Fake {
	f := &Fake{
		t:         t,
		Params:    map[string]string{},
		Secrets:   map[string]string{},
		Objects:   map[string][]byte{},
		Denied:    map[string]bool{},
		KMSDenied: map[string]bool{},
		Throttle:  map[string]int{},
	}
	f.Srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Srv.Close)
	return f
}

// Environ is what a test's configuration environment needs to reach the
// fake: its endpoint, a region, static keys, and IMDS switched off.
func (f *Fake) Environ(extra ...string) []string {
	return append([]string{
		"AWS_ENDPOINT_URL=" + f.Srv.URL,
		"AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=" + KeyID,
		"AWS_SECRET_ACCESS_KEY=fake-secret-key",
		"AWS_EC2_METADATA_DISABLED=true",
		"ENABLE_DNS=false", "ENABLE_PING=false",
	}, extra...)
}

// Counts are the requests served, those not signed by KeyID, and what
// each asked for.
func (f *Fake) Counts() (requests, unsigned int, seen []string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.requests, f.unsigned, append([]string(nil), f.seen...)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	signed := verifySigV4(r, body)
	f.Mu.Lock()
	f.requests++
	if !signed {
		f.unsigned++
	}
	f.Mu.Unlock()
	if !signed {
		// Never log the header: it is a credential.
		jsonError(w, http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	if r.Method == http.MethodGet {
		f.getObject(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		jsonError(w, http.StatusBadRequest, "SerializationException", "content type "+ct)
		return
	}
	var in struct {
		Name           string
		WithDecryption bool
		SecretId       string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jsonError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonSSM.GetParameter":
		if !in.WithDecryption {
			jsonError(w, http.StatusBadRequest, "ValidationException", "this fake wants WithDecryption")
			return
		}
		if f.refuse(w, "ssm", in.Name, "ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter"+in.Name) {
			return
		}
		v, ok := f.Params[in.Name]
		if !ok {
			jsonError(w, http.StatusBadRequest, "ParameterNotFound", "")
			return
		}
		writeJSON(w, map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": v, "Version": 1}})
	case "secretsmanager.GetSecretValue":
		if f.refuse(w, "secretsmanager", in.SecretId, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"+in.SecretId+"-AbCdEf") {
			return
		}
		v, ok := f.Secrets[in.SecretId]
		if !ok {
			jsonError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		writeJSON(w, map[string]any{"Name": in.SecretId, "SecretString": v, "VersionId": "v1"})
	default:
		jsonError(w, http.StatusBadRequest, "UnknownOperationException", "")
	}
}

// refuse answers a throttle, a denial or a KMS denial for name, if any.
func (f *Fake) refuse(w http.ResponseWriter, service, name, action, arn string) bool {
	f.Mu.Lock()
	f.seen = append(f.seen, service+" "+name)
	throttled := f.Throttle[name] > 0
	if throttled {
		f.Throttle[name]--
	}
	f.Mu.Unlock()
	switch {
	case throttled:
		jsonError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	case f.Denied[name]:
		jsonError(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:sts::123456789012:assumed-role/pingpanda/fn is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", action, arn, action))
	case f.KMSDenied[name]:
		jsonError(w, http.StatusBadRequest, "AccessDeniedException", "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)")
	default:
		return false
	}
	return true
}

func (f *Fake) getObject(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	f.Mu.Lock()
	f.seen = append(f.seen, "s3 "+path)
	f.Mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	if f.Denied[path] {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return
	}
	b, ok := f.Objects[path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

// verifySigV4 checks a request's SigV4 signature as AWS would: signed by
// KeyID with the tests' secret key, over the headers it names, the
// path as sent and the body's hash.
func verifySigV4(r *http.Request, body []byte) bool {
	auth := r.Header.Get("Authorization")
	m := sigV4Header.FindStringSubmatch(auth)
	if m == nil {
		return false
	}
	region, service, signedHeaders := m[1], m[2], m[3]
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	// S3 sends the payload's hash; the JSON services sign it unsent.
	signedHash := r.Header.Get("X-Amz-Content-Sha256")
	switch signedHash {
	case "":
		signedHash = payloadHash
	case payloadHash, "UNSIGNED-PAYLOAD":
	default:
		return false
	}
	clone, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return false
	}
	for _, h := range strings.Split(signedHeaders, ";") {
		if h != "host" {
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	creds := aws.Credentials{AccessKeyID: KeyID, SecretAccessKey: "fake-secret-key", SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := signer.SignHTTP(context.Background(), creds, clone, signedHash, service, region, when); err != nil {
		return false
	}
	return clone.Header.Get("Authorization") == auth
}

// sigV4Header is the Authorization header of SigV4: scope region and
// service, and the signed headers.
var sigV4Header = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=` + KeyID + `/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(v)
}
