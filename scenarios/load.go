package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/reboundhq/rebound/scenarios/v1alpha1"
)

// Objects are the rebound objects of one or more files, defaulted and
// validated, in the order they were read.
type Objects struct {
	Scenarios []*Scenario
	Ladders   []*Ladder
	Drills    []*Drill
}

// Scenario returns the scenario named name, or nil.
func (o *Objects) Scenario(name string) *Scenario {
	for _, s := range o.Scenarios {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Ladder returns the ladder named name, or nil.
func (o *Objects) Ladder(name string) *Ladder {
	for _, l := range o.Ladders {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Load reads the rebound objects of a file, or of every *.yaml and *.yml file
// under a folder (hidden folders skipped). A file may hold several documents
// separated by ---. Every object is decoded strictly, defaulted and
// validated; the error lists every problem of every file, each with its file,
// line and field path, and matches ErrInvalid. Two objects of the same kind
// and name are a problem too.
func Load(name string) (*Objects, error) {
	info, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		return Parse(name, data)
	}
	return loadFS(os.DirFS(name), ".", func(p string) string { return filepath.Join(name, filepath.FromSlash(p)) })
}

// LoadFS is Load for a file or folder of fsys, such as an embed.FS. File
// names in errors are the names in fsys.
func LoadFS(fsys fs.FS, name string) (*Objects, error) {
	return loadFS(fsys, name, func(p string) string { return p })
}

func loadFS(fsys fs.FS, root string, display func(string) string) (*Objects, error) {
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); p == root || ext == ".yaml" || ext == ".yml" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", display(root), err)
	}
	if len(files) == 0 {
		return nil, newError([]Problem{{File: display(root), Message: "no *.yaml or *.yml files found"}})
	}

	all := &Objects{}
	var problems []Problem
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", display(f), err)
		}
		objs, ps := parse(display(f), data)
		problems = append(problems, ps...)
		all.Scenarios = append(all.Scenarios, objs.Scenarios...)
		all.Ladders = append(all.Ladders, objs.Ladders...)
		all.Drills = append(all.Drills, objs.Drills...)
	}
	problems = append(problems, duplicates(all)...)
	if err := newError(problems); err != nil {
		return nil, err
	}
	return all, nil
}

// Parse reads the rebound objects of one file's content; name is the file
// name errors give. See Load.
func Parse(name string, data []byte) (*Objects, error) {
	objs, problems := parse(name, data)
	problems = append(problems, duplicates(objs)...)
	if err := newError(problems); err != nil {
		return nil, err
	}
	return objs, nil
}

func duplicates(o *Objects) []Problem {
	var problems []Problem
	seen := map[string]Source{}
	check := func(kind, name string, src Source) {
		key := kind + "/" + name
		if first, ok := seen[key]; ok {
			problems = append(problems, Problem{File: src.File, Line: src.Line, Field: "metadata.name",
				Message: fmt.Sprintf("Duplicate value: %q: a %s of that name is already defined at %s", name, kind, first)})
			return
		}
		seen[key] = src
	}
	for _, s := range o.Scenarios {
		check(v1alpha1.ScenarioKind, s.Name, s.Source)
	}
	for _, l := range o.Ladders {
		check(v1alpha1.LadderKind, l.Name, l.Source)
	}
	for _, d := range o.Drills {
		check(v1alpha1.DrillKind, d.Name, d.Source)
	}
	return problems
}

// yamlErrLine finds the line in the parser's "yaml: line 12: ..." errors.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parse(file string, data []byte) (*Objects, []Problem) {
	objs := &Objects{}
	var problems []Problem
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The parser cannot resume after a syntax error.
			p := Problem{File: file, Message: strings.TrimPrefix(err.Error(), "yaml: ")}
			if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				p.Message = m[2]
				if strings.HasPrefix(p.Message, "did not find expected") {
					// The parser names the line where the enclosing block
					// starts, not the line that breaks it.
					p.Message += " in the block that starts here: check the indentation of the lines below it"
				}
			}
			problems = append(problems, p)
			break
		}
		b := &treeBuilder{file: file, active: map[*yaml.Node]bool{}}
		t := b.build(&doc, "")
		problems = append(problems, b.problems...)
		if t == nil || t.kind == treeNull {
			continue // an empty document, like the one after a trailing ---
		}
		docs++
		problems = append(problems, decodeDocument(file, t, objs)...)
	}
	if docs == 0 && len(problems) == 0 {
		problems = append(problems, Problem{File: file, Message: fmt.Sprintf(
			"no rebound objects found: a document needs apiVersion: %s and kind: %s, %s or %s",
			v1alpha1.SchemeGroupVersion, v1alpha1.ScenarioKind, v1alpha1.LadderKind, v1alpha1.DrillKind)})
	}
	return objs, problems
}

// kinds are the objects this version of rebound reads, by apiVersion and kind.
var kinds = map[schema.GroupVersionKind]func() any{
	v1alpha1.SchemeGroupVersion.WithKind(v1alpha1.ScenarioKind): func() any { return &v1alpha1.Scenario{} },
	v1alpha1.SchemeGroupVersion.WithKind(v1alpha1.LadderKind):   func() any { return &v1alpha1.Ladder{} },
	v1alpha1.SchemeGroupVersion.WithKind(v1alpha1.DrillKind):    func() any { return &v1alpha1.Drill{} },
}

func decodeDocument(file string, t *tree, objs *Objects) []Problem {
	if t.kind != treeMapping {
		return []Problem{{File: file, Line: t.line, Message: fmt.Sprintf(
			"a document must be a mapping with apiVersion and kind, not %s", t.describe())}}
	}
	gvk, problems := typeOf(file, t)
	if len(problems) > 0 {
		return problems
	}

	obj := kinds[gvk]()
	w := &walker{file: file, lines: map[string]int{}}
	w.walk(t, reflect.TypeOf(obj), nil)
	if len(w.problems) > 0 {
		return w.problems
	}
	idx := lineIndex{lines: w.lines, doc: t.line}

	data, err := json.Marshal(t.toJSON())
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(obj)
	}
	if err != nil {
		// The walk checks everything the decoder does; this is a backstop.
		return []Problem{{File: file, Line: t.line, Message: err.Error()}}
	}

	src := Source{File: file, Line: t.line}
	switch o := obj.(type) {
	case *v1alpha1.Scenario:
		v1alpha1.SetDefaultsScenario(o)
		if errs := ValidateScenario(o); len(errs) > 0 {
			return problemsOf(file, idx, errs)
		}
		s := ScenarioFromV1Alpha1(o)
		s.Source = src
		objs.Scenarios = append(objs.Scenarios, s)
	case *v1alpha1.Ladder:
		if errs := ValidateLadder(o); len(errs) > 0 {
			return problemsOf(file, idx, errs)
		}
		l := LadderFromV1Alpha1(o)
		l.Source = src
		objs.Ladders = append(objs.Ladders, l)
	case *v1alpha1.Drill:
		v1alpha1.SetDefaultsDrill(o)
		if errs := ValidateDrill(o); len(errs) > 0 {
			return problemsOf(file, idx, errs)
		}
		d := DrillFromV1Alpha1(o)
		d.Source = src
		objs.Drills = append(objs.Drills, d)
	}
	return nil
}

// typeOf reads apiVersion and kind, and says what is wrong with them in terms
// a person who typed them understands.
func typeOf(file string, t *tree) (schema.GroupVersionKind, []Problem) {
	var problems []Problem
	str := func(key string) (string, int) {
		v, line := t.get(key)
		if v == nil {
			return "", 0
		}
		s, ok := v.scalar.(string)
		if !ok {
			problems = append(problems, Problem{File: file, Line: line, Field: key, Message: "must be a string, not " + v.describe()})
			return "", line
		}
		return s, line
	}
	apiVersion, avLine := str("apiVersion")
	kind, kindLine := str("kind")
	if len(problems) > 0 {
		return schema.GroupVersionKind{}, problems
	}

	var supportedKinds []string
	for gvk := range kinds {
		supportedKinds = append(supportedKinds, gvk.Kind)
	}
	slices.Sort(supportedKinds)
	want := v1alpha1.SchemeGroupVersion.String()

	switch {
	case apiVersion == "":
		problems = append(problems, Problem{File: file, Line: orLine(avLine, t.line), Field: "apiVersion",
			Message: fmt.Sprintf("Required value: set apiVersion: %s", want)})
	case apiVersion != want:
		gv, err := schema.ParseGroupVersion(apiVersion)
		msg := fmt.Sprintf("Unsupported value: %q: this rebound reads %s", apiVersion, want)
		switch hint := didYouMean(apiVersion, []string{want}); {
		case err == nil && gv.Group == v1alpha1.GroupName:
			msg += fmt.Sprintf(" (version %s is unknown to it; a newer rebound may read it)", gv.Version)
		case hint != "":
			msg += hint
		default:
			msg += "; this is not a rebound object: keep other manifests out of the files and folders given to rebound"
			// Its kind is someone else's; naming ours would be noise.
			return schema.GroupVersionKind{}, append(problems, Problem{File: file, Line: avLine, Field: "apiVersion", Message: msg})
		}
		problems = append(problems, Problem{File: file, Line: avLine, Field: "apiVersion", Message: msg})
	}
	switch {
	case kind == "":
		problems = append(problems, Problem{File: file, Line: orLine(kindLine, t.line), Field: "kind",
			Message: "Required value: " + orList(supportedKinds)})
	case !slices.Contains(supportedKinds, kind):
		problems = append(problems, Problem{File: file, Line: kindLine, Field: "kind",
			Message: fmt.Sprintf("Unsupported value: %q: supported values: %s%s", kind, quoteList(supportedKinds), didYouMean(kind, supportedKinds))})
	}
	if len(problems) > 0 {
		return schema.GroupVersionKind{}, problems
	}
	return v1alpha1.SchemeGroupVersion.WithKind(kind), nil
}

func orLine(line, fallback int) int {
	if line > 0 {
		return line
	}
	return fallback
}
