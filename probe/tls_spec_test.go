package probe

import (
	"context"
	"testing"
	"time"
)

func TestTLSProbeWithSpec(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	ca := newTLSCA(t, "spec CA")
	// Valid for good.test alone, with 20 days left, served on 127.0.0.1.
	leaf := tlsLeaf{ca: ca, cn: "good.test", dnsNames: []string{"good.test"},
		notBefore: now.Add(-24 * time.Hour), notAfter: now.Add(20 * 24 * time.Hour)}
	addr, sni := tlsServe(t, leaf.issue(t))
	p := NewTLS(TLSOptions{RootCAs: ca.pool(), WarnDays: 30, CriticalDays: 7, Now: func() time.Time { return now }})

	tests := []struct {
		name    string
		spec    *TLSSpec
		status  Status
		level   CertLevel
		err     string
		wantSNI string
	}{
		{name: "without a spec the IP address is verified, and fails", spec: nil,
			status: StatusDown, level: CertWarning, wantSNI: "",
			err: `certificate is not valid for host "127.0.0.1" (valid for good.test)`},
		{name: "the spec's server name is sent and verified", spec: &TLSSpec{ServerName: "good.test", WarnDays: 30, CriticalDays: 7},
			status: StatusUp, level: CertWarning, wantSNI: "good.test"},
		{name: "a server name the certificate does not name fails verification", spec: &TLSSpec{ServerName: "bad.test", WarnDays: 30, CriticalDays: 7},
			status: StatusDown, level: CertWarning, wantSNI: "bad.test",
			err: `certificate is not valid for host "bad.test" (valid for good.test)`},
		{name: "the spec's lower thresholds make 20 days ok", spec: &TLSSpec{ServerName: "good.test", WarnDays: 10, CriticalDays: 5},
			status: StatusUp, level: CertOK, wantSNI: "good.test"},
		{name: "the spec's higher thresholds make 20 days critical", spec: &TLSSpec{ServerName: "good.test", WarnDays: 60, CriticalDays: 25},
			status: StatusUp, level: CertCritical, wantSNI: "good.test"},
		{name: "a spec's zero thresholds are thresholds of zero days", spec: &TLSSpec{ServerName: "good.test"},
			status: StatusUp, level: CertOK, wantSNI: "good.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			target := tlsTarget(addr)
			if tt.spec != nil {
				target.Spec = &Spec{TLS: tt.spec}
			}

			res := p.Probe(ctx, target)
			t.Logf("status %s, error %q", res.Status, res.Error)

			if res.Status != tt.status || res.Error != tt.err {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Error, tt.status, tt.err)
			}
			if wantFinal := tt.status != StatusUp; res.final != wantFinal {
				t.Errorf("final = %v, want %v", res.final, wantFinal)
			}
			if res.TLS == nil || res.TLS.Level != tt.level {
				t.Errorf("detail = %+v, want level %q", res.TLS, tt.level)
			}
			expectSNI(t, sni, tt.wantSNI)
		})
	}
}
