package lua

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"
)

// jsonNull is ws.json.null: JSON null inside arrays and objects, where Lua's
// nil cannot be stored. One value shared by every VM; scripts only compare it.
var jsonNull = &glua.LUserData{Value: "null", Metatable: glua.LNil}

const maxJSONDepth = 200

func (vm *VM) newJSON() *glua.LTable {
	L := vm.L
	t := L.NewTable()
	t.RawSetString("null", jsonNull)
	t.RawSetString("encode", L.NewFunction(func(L *glua.LState) int {
		s, err := encodeJSON(L.CheckAny(1))
		if err != nil {
			L.RaiseError("ws.json.encode: %v", err)
		}
		L.Push(glua.LString(s))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *glua.LState) int {
		v, err := decodeJSON(L, L.CheckString(1))
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString("ws.json.decode: " + err.Error()))
			return 2
		}
		L.Push(v)
		return 1
	}))
	return t
}

// encodeJSON encodes a Lua value. A table whose keys are exactly 1..n (n ≥ 1)
// is an array; any other table is an object whose keys must be strings or
// numbers; an empty table is {}.
func encodeJSON(v glua.LValue) (string, error) {
	var b bytes.Buffer
	if err := encodeValue(&b, v, map[*glua.LTable]bool{}, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func encodeValue(b *bytes.Buffer, v glua.LValue, seen map[*glua.LTable]bool, depth int) error {
	switch v := v.(type) {
	case *glua.LNilType:
		b.WriteString("null")
	case glua.LBool:
		b.WriteString(strconv.FormatBool(bool(v)))
	case glua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("cannot encode %v", f)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			b.WriteString(strconv.FormatInt(int64(f), 10))
		} else {
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case glua.LString:
		return encodeString(b, string(v))
	case *glua.LUserData:
		if v != jsonNull {
			return errors.New("cannot encode a userdata")
		}
		b.WriteString("null")
	case *glua.LTable:
		if depth >= maxJSONDepth {
			return fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
		}
		if seen[v] {
			return errors.New("cannot encode a table that contains itself")
		}
		seen[v] = true
		defer delete(seen, v)
		return encodeTable(b, v, seen, depth+1)
	default:
		return fmt.Errorf("cannot encode a %s", v.Type())
	}
	return nil
}

func encodeString(b *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return errors.New("string is not valid UTF-8")
	}
	enc, _ := json.Marshal(s)
	b.Write(enc)
	return nil
}

func encodeTable(b *bytes.Buffer, t *glua.LTable, seen map[*glua.LTable]bool, depth int) error {
	n := t.Len()
	count := 0
	t.ForEach(func(glua.LValue, glua.LValue) { count++ })
	if n > 0 && count == n {
		b.WriteByte('[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				b.WriteByte(',')
			}
			if err := encodeValue(b, t.RawGetInt(i), seen, depth); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	type kv struct {
		k string
		v glua.LValue
	}
	fields := make([]kv, 0, count)
	var err error
	t.ForEach(func(k, v glua.LValue) {
		switch k := k.(type) {
		case glua.LString:
			fields = append(fields, kv{string(k), v})
		case glua.LNumber:
			fields = append(fields, kv{k.String(), v})
		default:
			err = fmt.Errorf("cannot encode a table key of type %s", k.Type())
		}
	})
	if err != nil {
		return err
	}
	// Sorted keys make the output deterministic (tests, caches, signatures).
	sort.Slice(fields, func(i, j int) bool { return fields[i].k < fields[j].k })
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := encodeString(b, f.k); err != nil {
			return err
		}
		b.WriteByte(':')
		if err := encodeValue(b, f.v, seen, depth); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

// decodeJSON decodes one JSON value; objects and arrays become tables, null
// becomes ws.json.null.
func decodeJSON(L *glua.LState, s string) (glua.LValue, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	v, err := decodeValue(L, dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func decodeValue(L *glua.LState, dec *json.Decoder, depth int) (glua.LValue, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err, dec)
	}
	switch tok := tok.(type) {
	case nil:
		return jsonNull, nil
	case bool:
		return glua.LBool(tok), nil
	case json.Number:
		f, err := tok.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s out of range", tok)
		}
		return glua.LNumber(f), nil
	case string:
		return glua.LString(tok), nil
	case json.Delim:
		t := L.NewTable()
		if tok == '[' {
			for dec.More() {
				v, err := decodeValue(L, dec, depth+1)
				if err != nil {
					return nil, err
				}
				t.Append(v)
			}
		} else {
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, jsonErr(err, dec)
				}
				v, err := decodeValue(L, dec, depth+1)
				if err != nil {
					return nil, err
				}
				t.RawSetString(kt.(string), v)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonErr(err, dec)
		}
		return t, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func jsonErr(err error, dec *json.Decoder) error {
	if errors.Is(err, io.EOF) {
		return errors.New("unexpected end of input")
	}
	return fmt.Errorf("%v (at offset %d)", err, dec.InputOffset())
}
