package awsref

import "testing"

func TestParseAWSRef(t *testing.T) {
	tests := []struct {
		in, kind, bucket, name string
		s3, ok, bad            bool
	}{
		{in: "ssm:/pingpanda/redis", kind: "ssm", name: "/pingpanda/redis", ok: true},
		{in: "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/x", kind: "ssm", name: "arn:aws:ssm:eu-west-1:123456789012:parameter/x", ok: true},
		{in: "secretsmanager:prod/slack", kind: "secretsmanager", name: "prod/slack", ok: true},
		{in: "s3://bucket/dir/targets.yaml", s3: true, kind: "s3", bucket: "bucket", name: "dir/targets.yaml", ok: true},
		{in: "s3://bucket/dir/targets.yaml", s3: false},
		{in: "redis://host:6379"},
		{in: "ssm:", kind: "ssm", ok: true, bad: true},
		{in: "secretsmanager:two words", kind: "secretsmanager", name: "two words", ok: true, bad: true},
		{in: "s3://bucket", s3: true, kind: "s3", bucket: "bucket", ok: true, bad: true},
		{in: "s3://bucket/dir/", s3: true, kind: "s3", bucket: "bucket", name: "dir/", ok: true, bad: true},
	}
	for _, tt := range tests {
		ref, ok, err := Parse(tt.in, tt.s3)
		if ok != tt.ok || (err != nil) != tt.bad || ok && (ref.Kind != tt.kind || ref.Bucket != tt.bucket || ref.Name != tt.name) {
			t.Errorf("Parse(%q, %v) = %+v, %v, %v", tt.in, tt.s3, ref, ok, err)
		}
	}
}

func FuzzParseAWSRef(f *testing.F) {
	for _, s := range []string{"ssm:/a/b", "secretsmanager:x", "s3://b/k", "s3://b", "ssm:", "file:/x", "redis://h"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, s3 bool) {
		ref, ok, err := Parse(v, s3)
		if !ok && err != nil {
			t.Fatalf("%q: an error for a value that is no reference", v)
		}
		if ok && err == nil && (ref.Name == "" || ref.Kind == "s3" && ref.Bucket == "") {
			t.Fatalf("%q: accepted without a name: %+v", v, ref)
		}
		if ok && ref.Text != v {
			t.Fatalf("%q: text %q", v, ref.Text)
		}
	})
}
