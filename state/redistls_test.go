package state

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedissVerifiesTheServerCertificateByDefault dials a TLS server whose
// certificate no system root signed: the sweep's first command fails on
// the certificate, before a word of Redis is said. Only skip_verify=true
// in the URL turns verification off.
func TestRedissVerifiesTheServerCertificateByDefault(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, url    string
		certRejected bool
	}{
		{"rediss verifies", "rediss://:pw@" + addr + "/0", true},
		{"rediss with skip_verify=true does not", "rediss://:pw@" + addr + "/0?skip_verify=true", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewRedisStore(context.Background(), RedisOptions{URL: tc.url, Now: fixedClock(t0)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = s.Lock(ctx, time.Minute)
			if err == nil {
				t.Fatal("Lock succeeded against a server that is not Redis")
			}
			if got := strings.Contains(err.Error(), "certificate"); got != tc.certRejected {
				t.Fatalf("certificate rejected: %v, want %v: %v", got, tc.certRejected, err)
			}
		})
	}
}

func TestEveryKindOfRedissURLVerifiesCertificates(t *testing.T) {
	for _, raw := range []string{
		"rediss://cache.example:6380/0",
		"rediss://node1:7000?addr=node2:7000",
		"rediss://sentinel1:26379?master_name=mymaster",
	} {
		t.Run(raw, func(t *testing.T) {
			u, err := parseRedisURL(raw)
			if err != nil {
				t.Fatal(err)
			}
			c := u.connect()
			defer c.Close()
			var insecure, tlsOn bool
			switch o := c.(type) {
			case *redis.Client:
				tlsOn, insecure = o.Options().TLSConfig != nil, o.Options().TLSConfig != nil && o.Options().TLSConfig.InsecureSkipVerify
			case *redis.ClusterClient:
				tlsOn, insecure = o.Options().TLSConfig != nil, o.Options().TLSConfig != nil && o.Options().TLSConfig.InsecureSkipVerify
			default:
				t.Fatalf("client %T", c)
			}
			if !tlsOn || insecure {
				t.Fatalf("TLS %v, verification skipped %v; want TLS with verification", tlsOn, insecure)
			}
		})
	}
}
