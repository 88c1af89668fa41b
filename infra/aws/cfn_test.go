package aws

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file reads a CloudFormation template written in YAML, short tags and
// all, and evaluates its intrinsic functions for one set of parameter
// values, so that a test can see the resources CloudFormation would create
// from it. It knows the functions template.yaml uses and fails on any other.

// fromYAML turns a YAML node into plain values (map[string]any, []any,
// string, int, bool), with each short tag in its long form: !Ref x becomes
// {"Ref": x}, !GetAtt A.B {"Fn::GetAtt": [A, B]}, !Condition c
// {"Condition": c} and !Name v {"Fn::Name": v}.
func fromYAML(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, errors.New("want one YAML document")
		}
		return fromYAML(n.Content[0])
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: key %s twice", n.Content[i].Line, k)
			}
			val, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			v = n.Value // a tagged scalar is always a string
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	tag := n.Tag
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return v, nil
	}
	switch tag {
	case "!Ref":
		return map[string]any{"Ref": v}, nil
	case "!Condition":
		return map[string]any{"Condition": v}, nil
	case "!GetAtt":
		if s, ok := v.(string); ok {
			res, attr, ok := strings.Cut(s, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %s: want Resource.Attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	default:
		return map[string]any{"Fn::" + tag[1:]: v}, nil
	}
}

// noValue stands for AWS::NoValue: a property or list item it reaches is
// dropped.
type noValue struct{}

// stack is a template with parameter values, which evaluates intrinsic
// functions the way CloudFormation would. Resources' attributes evaluate to
// placeholders: Ref to "ref:Name", GetAtt to "arn:Name.Attr"-like
// "getatt:Name.Attr".
type stack struct {
	params     map[string]any // string, or []any of strings
	conditions map[string]any
	resources  map[string]any
}

var pseudo = map[string]string{
	"AWS::Region":    "eu-west-1",
	"AWS::AccountId": "123456789012",
	"AWS::Partition": "aws",
	"AWS::StackName": "pingpanda",
}

// newStack gives each parameter of tmpl its value in set, or else its
// default (and a parameter with neither is an error).
func newStack(tmpl map[string]any, set map[string]string) (*stack, error) {
	s := &stack{params: map[string]any{}}
	s.conditions, _ = tmpl["Conditions"].(map[string]any)
	s.resources, _ = tmpl["Resources"].(map[string]any)
	params, _ := tmpl["Parameters"].(map[string]any)
	for name := range set {
		if _, ok := params[name]; !ok {
			return nil, fmt.Errorf("no parameter %s", name)
		}
	}
	for name, p := range params {
		p, _ := p.(map[string]any)
		val, ok := set[name]
		if !ok {
			def, has := p["Default"]
			if !has {
				return nil, fmt.Errorf("parameter %s has no default", name)
			}
			val = fmt.Sprint(def)
		}
		if allowed, ok := p["AllowedValues"].([]any); ok && !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == val }) {
			return nil, fmt.Errorf("parameter %s: %q is not one of %v", name, val, allowed)
		}
		if p["Type"] == "CommaDelimitedList" {
			var l []any
			for _, x := range strings.Split(val, ",") {
				l = append(l, x)
			}
			s.params[name] = l
		} else {
			s.params[name] = val
		}
	}
	return s, nil
}

// eval evaluates every intrinsic function in v.
func (s *stack) eval(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			e, err := s.eval(x)
			if err != nil {
				return nil, err
			}
			if _, drop := e.(noValue); !drop {
				out = append(out, e)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					out, err := s.fn(k, arg)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", k, err)
					}
					return out, nil
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			e, err := s.eval(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := e.(noValue); !drop {
				out[k] = e
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

// evalString evaluates v and requires a string.
func (s *stack) evalString(v any) (string, error) {
	e, err := s.eval(v)
	if err != nil {
		return "", err
	}
	str, ok := e.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", e)
	}
	return str, nil
}

func (s *stack) condition(name string) (bool, error) {
	c, ok := s.conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	e, err := s.eval(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := e.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a boolean", name)
	}
	return b, nil
}

func (s *stack) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := pseudo[name]; ok {
		return v, nil
	}
	if v, ok := s.params[name]; ok {
		return v, nil
	}
	if _, ok := s.resources[name]; ok {
		return "ref:" + name, nil
	}
	return nil, fmt.Errorf("Ref to %s, which is no parameter or resource", name)
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (s *stack) fn(name string, arg any) (any, error) {
	args, _ := arg.([]any)
	switch name {
	case "Ref":
		str, ok := arg.(string)
		if !ok {
			return nil, errors.New("want a name")
		}
		return s.ref(str)
	case "Condition":
		str, ok := arg.(string)
		if !ok {
			return nil, errors.New("want a name")
		}
		return s.condition(str)
	case "Fn::GetAtt":
		if len(args) != 2 {
			return nil, errors.New("want [Resource, Attribute]")
		}
		res, _ := args[0].(string)
		if _, ok := s.resources[res]; !ok {
			return nil, fmt.Errorf("no resource %s", res)
		}
		return fmt.Sprintf("getatt:%s.%v", res, args[1]), nil
	case "Fn::If":
		if len(args) != 3 {
			return nil, errors.New("want [condition, then, else]")
		}
		c, _ := args[0].(string)
		b, err := s.condition(c)
		if err != nil {
			return nil, err
		}
		if b {
			return s.eval(args[1])
		}
		return s.eval(args[2])
	case "Fn::Equals":
		if len(args) != 2 {
			return nil, errors.New("want two values")
		}
		a, err := s.eval(args[0])
		if err != nil {
			return nil, err
		}
		b, err := s.eval(args[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		if len(args) == 0 || name == "Fn::Not" && len(args) != 1 {
			return nil, errors.New("wrong number of conditions")
		}
		var bs []bool
		for _, a := range args {
			e, err := s.eval(a)
			if err != nil {
				return nil, err
			}
			b, ok := e.(bool)
			if !ok {
				return nil, fmt.Errorf("%v is not a boolean", e)
			}
			bs = append(bs, b)
		}
		switch name {
		case "Fn::Not":
			return !bs[0], nil
		case "Fn::And":
			return !slices.Contains(bs, false), nil
		default:
			return slices.Contains(bs, true), nil
		}
	case "Fn::Join":
		if len(args) != 2 {
			return nil, errors.New("want [delimiter, list]")
		}
		sep, err := s.evalString(args[0])
		if err != nil {
			return nil, err
		}
		l, err := s.eval(args[1])
		if err != nil {
			return nil, err
		}
		items, ok := l.([]any)
		if !ok {
			return nil, fmt.Errorf("%v is not a list", l)
		}
		strs := make([]string, len(items))
		for i, it := range items {
			strs[i] = fmt.Sprint(it)
		}
		return strings.Join(strs, sep), nil
	case "Fn::Split":
		if len(args) != 2 {
			return nil, errors.New("want [delimiter, string]")
		}
		sep, err := s.evalString(args[0])
		if err != nil {
			return nil, err
		}
		str, err := s.evalString(args[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(str, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, errors.New("want [index, list]")
		}
		i, err := strconv.Atoi(fmt.Sprint(args[0]))
		if err != nil {
			return nil, err
		}
		l, err := s.eval(args[1])
		if err != nil {
			return nil, err
		}
		items, ok := l.([]any)
		if !ok || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("index %d of %v", i, l)
		}
		return items[i], nil
	case "Fn::Sub":
		tmpl, isString := arg.(string)
		vars := map[string]any{}
		if !isString {
			if len(args) != 2 {
				return nil, errors.New("want a string or [string, variables]")
			}
			tmpl, _ = args[0].(string)
			m, _ := args[1].(map[string]any)
			for k, v := range m {
				e, err := s.evalString(v)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				vars[k] = e
			}
		}
		var subErr error
		out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := vars[name]; ok {
				return v.(string)
			}
			if res, attr, ok := strings.Cut(name, "."); ok {
				if _, ok := s.resources[res]; ok {
					return "getatt:" + res + "." + attr
				}
			}
			v, err := s.ref(name)
			if err != nil {
				subErr = err
				return ""
			}
			str, ok := v.(string)
			if !ok {
				subErr = fmt.Errorf("${%s} is not a string", name)
			}
			return str
		})
		return out, subErr
	}
	return nil, fmt.Errorf("this test does not know %s", name)
}
