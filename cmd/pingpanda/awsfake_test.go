package main

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

// testKeyID is the access key id of the tests' static credentials; the
// fake refuses a request not signed with it.
const testKeyID = "AKIDPINGPANDATEST"

// fakeAWS is an httptest server on loopback speaking just enough of three
// AWS APIs: SSM GetParameter and Secrets Manager GetSecretValue (JSON 1.1
// protocol, X-Amz-Target) and S3 GetObject (REST, path-style). It checks
// every request's SigV4 signature and refuses a bad one. Names
// listed in denied get AccessDenied; a name in throttle is answered
// ThrottlingException that many times first.
type fakeAWS struct {
	t   *testing.T
	srv *httptest.Server

	params, secrets map[string]string
	objects         map[string][]byte // "bucket/key"
	denied          map[string]bool
	kmsDenied       map[string]bool

	mu       sync.Mutex
	throttle map[string]int
	requests int
	unsigned int      // requests without SigV4 by testKeyID
	seen     []string // "ssm /name", "secretsmanager id", "s3 bucket/key"
}

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{
		t:         t,
		params:    map[string]string{},
		secrets:   map[string]string{},
		objects:   map[string][]byte{},
		denied:    map[string]bool{},
		kmsDenied: map[string]bool{},
		throttle:  map[string]int{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// environ is what a test's configuration environment needs to reach the
// fake: its endpoint, a region, static keys, and IMDS switched off.
func (f *fakeAWS) environ(extra ...string) []string {
	return append([]string{
		"AWS_ENDPOINT_URL=" + f.srv.URL,
		"AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=" + testKeyID,
		"AWS_SECRET_ACCESS_KEY=fake-secret-key",
		"AWS_EC2_METADATA_DISABLED=true",
		"ENABLE_DNS=false", "ENABLE_PING=false",
	}, extra...)
}

func (f *fakeAWS) counts() (requests, unsigned int, seen []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, f.unsigned, append([]string(nil), f.seen...)
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	signed := verifySigV4(r, body)
	f.mu.Lock()
	f.requests++
	if !signed {
		f.unsigned++
	}
	f.mu.Unlock()
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
		v, ok := f.params[in.Name]
		if !ok {
			jsonError(w, http.StatusBadRequest, "ParameterNotFound", "")
			return
		}
		writeJSON(w, map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": v, "Version": 1}})
	case "secretsmanager.GetSecretValue":
		if f.refuse(w, "secretsmanager", in.SecretId, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"+in.SecretId+"-AbCdEf") {
			return
		}
		v, ok := f.secrets[in.SecretId]
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
func (f *fakeAWS) refuse(w http.ResponseWriter, service, name, action, arn string) bool {
	f.mu.Lock()
	f.seen = append(f.seen, service+" "+name)
	throttled := f.throttle[name] > 0
	if throttled {
		f.throttle[name]--
	}
	f.mu.Unlock()
	switch {
	case throttled:
		jsonError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	case f.denied[name]:
		jsonError(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:sts::123456789012:assumed-role/pingpanda/fn is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", action, arn, action))
	case f.kmsDenied[name]:
		jsonError(w, http.StatusBadRequest, "AccessDeniedException", "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)")
	default:
		return false
	}
	return true
}

func (f *fakeAWS) getObject(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	f.mu.Lock()
	f.seen = append(f.seen, "s3 "+path)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	if f.denied[path] {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return
	}
	b, ok := f.objects[path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

// verifySigV4 checks a request's SigV4 signature as AWS would: signed by
// testKeyID with the tests' secret key, over the headers it names, the
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
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != payloadHash && h != "UNSIGNED-PAYLOAD" {
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
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "fake-secret-key", SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := signer.SignHTTP(context.Background(), creds, clone, r.Header.Get("X-Amz-Content-Sha256"), service, region, when); err != nil {
		return false
	}
	return clone.Header.Get("Authorization") == auth
}

// sigV4Header is the Authorization header of SigV4: scope region and
// service, and the signed headers.
var sigV4Header = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=` + testKeyID + `/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(v)
}
