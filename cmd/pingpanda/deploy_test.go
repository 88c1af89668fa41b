package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestTheImageAndTheManifestsRunAsNonRootWithNoAddedCapabilities reads the
// Dockerfile and the Kubernetes manifests (security review, issue 7).
func TestTheImageAndTheManifestsRunAsNonRootWithNoAddedCapabilities(t *testing.T) {
	root := filepath.Join("..", "..")
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// The final stage's last USER.
	stages := regexp.MustCompile(`(?m)^FROM `).Split(string(df), -1)
	final := stages[len(stages)-1]
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(final, -1)
	if len(users) == 0 {
		t.Fatal("the Dockerfile's final stage sets no USER: the image runs as root")
	}
	if u := strings.SplitN(users[len(users)-1][1], ":", 2)[0]; u == "root" || u == "0" {
		t.Fatalf("the image runs as %s", u)
	}

	var spec struct {
		Spec struct {
			JobTemplate struct {
				Spec struct {
					Template struct {
						Spec struct {
							HostNetwork     bool `yaml:"hostNetwork"`
							SecurityContext struct {
								RunAsNonRoot *bool `yaml:"runAsNonRoot"`
								RunAsUser    *int  `yaml:"runAsUser"`
							} `yaml:"securityContext"`
							Containers []struct {
								Name            string `yaml:"name"`
								SecurityContext struct {
									Privileged               bool  `yaml:"privileged"`
									AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
									Capabilities             struct {
										Add  []string `yaml:"add"`
										Drop []string `yaml:"drop"`
									} `yaml:"capabilities"`
								} `yaml:"securityContext"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	b, err := os.ReadFile(filepath.Join(root, "infra", "k8s", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	pod := spec.Spec.JobTemplate.Spec.Template.Spec
	if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("the pod must run as a non-root user: %+v", sc)
	}
	if pod.HostNetwork {
		t.Error("the pod uses the host's network")
	}
	if len(pod.Containers) == 0 {
		t.Fatal("no containers in cronjob.yaml")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: privileged %v, allowPrivilegeEscalation %v", c.Name, sc.Privileged, sc.AllowPrivilegeEscalation)
		}
		if len(sc.Capabilities.Add) > 0 || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("container %s: capabilities add %v drop %v; want none added, ALL dropped", c.Name, sc.Capabilities.Add, sc.Capabilities.Drop)
		}
	}
}
