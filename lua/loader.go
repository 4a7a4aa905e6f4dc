package lua

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Script is one compiled .lua file of the handlers directory. The proto is
// read-only and shared by every worker's VM, which instantiates it.
type Script struct {
	// Name is the path relative to the handlers directory without ".lua",
	// with forward slashes: "chat", "iot/devices", "_util".
	Name string
	// File is the path used in error messages ("handlers/chat.lua").
	File  string
	proto *glua.FunctionProto
}

// IsEndpoint reports whether the script serves a path: helper modules have a
// file name starting with "_".
func (s *Script) IsEndpoint() bool {
	return !strings.HasPrefix(filepath.Base(s.Name), "_")
}

// Problem is a load error of one file, reported as "file:line: message".
type Problem struct {
	File    string
	Line    int
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Set is the compiled contents of a handlers directory.
type Set struct {
	Dir     string
	scripts map[string]*Script
	// Broken maps the name of a script that failed to compile to its problem;
	// its endpoint answers 500 while the others are served.
	Broken map[string]Problem
}

// Script returns the compiled script called name, or nil.
func (s *Set) Script(name string) *Script { return s.scripts[name] }

// Endpoints returns the names of every script that serves a path, including
// broken ones, sorted.
func (s *Set) Endpoints() []string {
	var names []string
	for name, sc := range s.scripts {
		if sc.IsEndpoint() {
			names = append(names, name)
		}
	}
	for name := range s.Broken {
		if !strings.HasPrefix(filepath.Base(name), "_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Load compiles every *.lua file under dir. A file that does not compile is
// recorded in Set.Broken and does not stop the others; an unreadable
// directory is an error.
func Load(dir string) (*Set, error) {
	set := &Set{Dir: dir, scripts: map[string]*Script{}, Broken: map[string]Problem{}}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("handlers directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("handlers directory: %s is not a directory", dir)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".lua") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(strings.TrimSuffix(rel, ".lua"))
		sc, prob := compileFile(path, name)
		if prob != nil {
			set.Broken[name] = *prob
			return nil
		}
		set.scripts[name] = sc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading handlers from %s: %w", dir, err)
	}
	return set, nil
}

func compileFile(path, name string) (*Script, *Problem) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Problem{File: path, Message: err.Error()}
	}
	proto, prob := compile(string(src), path)
	if prob != nil {
		return nil, prob
	}
	return &Script{Name: name, File: path, proto: proto}, nil
}

// compile parses and compiles source; chunkname (the file) prefixes every
// runtime error message of the code.
func compile(src, chunkname string) (*glua.FunctionProto, *Problem) {
	chunk, err := parse.Parse(strings.NewReader(src), chunkname)
	if err != nil {
		var perr *parse.Error
		if errors.As(err, &perr) {
			line := perr.Pos.Line
			msg := strings.TrimSpace(perr.Message)
			if line == parse.EOF {
				line = strings.Count(src, "\n") + 1
				msg += " at end of file"
			} else if perr.Token != "" {
				msg = fmt.Sprintf("%s near '%s'", msg, perr.Token)
			}
			return nil, &Problem{File: chunkname, Line: line, Message: msg}
		}
		return nil, &Problem{File: chunkname, Message: strings.TrimSpace(err.Error())}
	}
	proto, err := glua.Compile(chunk, chunkname)
	if err != nil {
		return nil, &Problem{File: chunkname, Message: strings.TrimSpace(err.Error())}
	}
	return proto, nil
}
