package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"evserver/engine/enginetest"
)

func writeHandlers(t *testing.T, files map[string]string) string {
	return enginetest.Handlers(t, files)
}

func runCheck(dir string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run([]string{"check", "-handlers", dir}, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckReportsProblems(t *testing.T) {
	dir := writeHandlers(t, map[string]string{
		"syntax.lua":   "local S = {}\n\nfunction S:on_open(\n  self.conn:send('x')\nend\nreturn S\n",
		"nothing.lua":  "local N = {}\nfunction N:on_open() end\nreturn nil\n",
		"runtime.lua":  "local R = {}\nlocal x = nil .. 'boom'\nreturn R\n",
		"badopt.lua":   "return { protocols = 'chat' }\n",
		"good.lua":     "local G = {}\nfunction G:on_open() self.conn:send('hi') end\nreturn G\n",
		"_helper.lua":  "return { ok = true }\n",
		"lib/util.lua": "return require('_helper')\n",
	})
	code, stdout, stderr := runCheck(dir)
	if code != 1 {
		t.Errorf("check returned %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	file := func(name string) string { return regexp.QuoteMeta(filepath.Join(dir, name)) }
	for _, want := range []struct{ what, re string }{
		{"syntax error with its line", `^` + file("syntax.lua") + `:4: \S.*$`},
		{"runtime error in the main chunk with its line", `^` + file("runtime.lua") + `:2: .*concat.*$`},
		{"bad class option", `^` + file("badopt.lua") + `(:\d+)?: .*protocols.*$`},
		// A file that returns no table has no line to blame; api.md's
		// "file:line: message" is read as "file[:line]: message" here.
		{"a file that returns no table", `^` + file("nothing.lua") + `(:\d+)?: .*class table.*$`},
	} {
		re := regexp.MustCompile(want.re)
		found := 0
		for _, l := range lines {
			if re.MatchString(l) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%s: %d lines match %s in the output:\n%s", want.what, found, want.re, stdout)
		}
	}
	if len(lines) != 4 {
		t.Errorf("%d lines, want one per problem (4):\n%s", len(lines), stdout)
	}
	for _, ok := range []string{"good.lua", "_helper.lua", "util.lua"} {
		if strings.Contains(stdout, ok) {
			t.Errorf("a problem is reported for %s:\n%s", ok, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestCheckGoodDirectory(t *testing.T) {
	dir := writeHandlers(t, map[string]string{
		"chat.lua":        "local C = { protocols = { 'chat.v1' }, max_connections = 10 }\nfunction C.accept(req) return 101 end\nreturn C\n",
		"iot/devices.lua": "local names = require('_names')\nlocal D = {}\nfunction D:on_open() self.conn:send(names.hi) end\nreturn D\n",
		"_names.lua":      "return { hi = 'hello' }\n",
	})
	code, stdout, stderr := runCheck(dir)
	if code != 0 {
		t.Errorf("check returned %d, want 0; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, dir) {
		t.Errorf("problems reported for a good directory:\n%s", stdout)
	}
	if want := "2 handlers OK"; !strings.Contains(stdout, want) {
		t.Errorf("stdout %q lacks %q", stdout, want)
	}
}

// The handlers the repository ships pass check.
func TestCheckShippedHandlers(t *testing.T) {
	if code, stdout, stderr := runCheck(filepath.Join("..", "..", "handlers")); code != 0 {
		t.Errorf("check ../../handlers returned %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestCheckMissingDirectory(t *testing.T) {
	code, _, stderr := runCheck(filepath.Join(t.TempDir(), "nope"))
	if code != 1 || stderr == "" {
		t.Errorf("check of a missing directory returned %d with stderr %q, want 1 and a message", code, stderr)
	}
}
