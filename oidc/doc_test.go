package oidc

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// docPath is the single sign-on guide, whose samples this file checks.
const docPath = "../docs/sso.md"

// docSample is one ```usher-preset block of the guide: the preset, its
// field values and the issuer the guide says they build.
type docSample struct {
	line   int
	preset string
	values map[string]string
	builds string
}

// parseDocSamples reads every ```usher-preset block of the guide. Each
// line of a block is "key: value" (the value may be empty); "preset" and
// "builds" are required, the other keys are the preset's fields.
func parseDocSamples(text string) ([]docSample, error) {
	var samples []docSample
	var cur *docSample
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case cur == nil && line == "```usher-preset":
			cur = &docSample{line: n, values: map[string]string{}}
		case cur == nil:
		case line == "```":
			if cur.preset == "" || cur.builds == "" {
				return nil, fmt.Errorf("line %d: a sample needs preset and builds", cur.line)
			}
			samples = append(samples, *cur)
			cur = nil
		default:
			if err := cur.add(n, line); err != nil {
				return nil, err
			}
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: unclosed sample", cur.line)
	}
	return samples, sc.Err()
}

func (s *docSample) add(n int, line string) error {
	key, value, ok := strings.Cut(line, ":")
	if !ok {
		return fmt.Errorf("line %d: want \"key: value\", got %q", n, line)
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	switch key {
	case "preset":
		s.preset = value
		return nil
	case "builds":
		s.builds = value
		return nil
	}
	if _, dup := s.values[key]; dup {
		return fmt.Errorf("line %d: %s given twice", n, key)
	}
	s.values[key] = value
	return nil
}

// TestDocSamples checks that every sample of docs/sso.md builds the issuer
// it shows, names only its preset's fields, and that every preset has one.
func TestDocSamples(t *testing.T) {
	text, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := parseDocSamples(string(text))
	if err != nil {
		t.Fatalf("%s: %v", docPath, err)
	}
	covered := map[string]bool{}
	for _, s := range samples {
		t.Run(fmt.Sprintf("%s line %d", s.preset, s.line), func(t *testing.T) {
			checkDocSample(t, s)
		})
		covered[s.preset] = true
	}
	for _, p := range Presets() {
		if !covered[p.Name] {
			t.Errorf("%s has no usher-preset sample for preset %q", docPath, p.Name)
		}
	}
}

func checkDocSample(t *testing.T, s docSample) {
	p, ok := FindPreset(s.preset)
	if !ok {
		t.Fatalf("unknown preset %q", s.preset)
	}
	fields := map[string]bool{}
	for _, f := range p.Fields {
		fields[f.Key] = true
	}
	for key := range s.values {
		if !fields[key] {
			t.Errorf("preset %q has no field %q", s.preset, key)
		}
	}
	got, err := p.Build(s.values)
	if err != nil {
		t.Fatalf("the sample does not build: %v", err)
	}
	if got != s.builds {
		t.Errorf("the sample builds %q; the guide says %q", got, s.builds)
	}
}

func TestParseDocSamplesRefuses(t *testing.T) {
	cases := []struct{ name, text string }{
		{"no builds", "```usher-preset\npreset: google\n```\n"},
		{"no preset", "```usher-preset\nbuilds: https://accounts.google.com\n```\n"},
		{"unclosed", "```usher-preset\npreset: google\n"},
		{"no colon", "```usher-preset\npreset google\n```\n"},
		{"key twice", "```usher-preset\npreset: gitlab\nbase_url:\nbase_url: https://x.example\nbuilds: https://gitlab.com\n```\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseDocSamples(tc.text); err == nil {
				t.Error("accepted")
			}
		})
	}
	samples, err := parseDocSamples("text\n```go\npreset: x\n```\n```usher-preset\npreset: google\nbuilds: https://accounts.google.com\n```\n")
	if err != nil || len(samples) != 1 || samples[0].preset != "google" || samples[0].line != 5 {
		t.Errorf("got %+v, %v", samples, err)
	}
}
