package engine

import (
	"sort"
	"strings"

	"evserver/lua"
)

// route is one handler's address.
type route struct {
	name   string // "chat", "iot/devices", "index"
	prefix string // "/chat", "/iot/devices", "/"
	info   lua.ClassInfo
	broken string // why the handler cannot load ("" if it loads)
}

// router maps request paths to handlers: DIR/chat.lua answers /chat and
// /chat/<tail>, DIR/a/b.lua answers /a/b..., DIR/index.lua answers / and
// DIR/a/index.lua answers /a. The longest matching address wins.
type router struct {
	routes []*route // longest prefix first
}

// prefixOf is the address a handler name serves.
func prefixOf(name string) string {
	if name == "index" {
		return "/"
	}
	return "/" + strings.TrimSuffix(name, "/index")
}

func newRouter(routes []*route) *router {
	sort.SliceStable(routes, func(i, j int) bool {
		if len(routes[i].prefix) != len(routes[j].prefix) {
			return len(routes[i].prefix) > len(routes[j].prefix)
		}
		return routes[i].name < routes[j].name
	})
	return &router{routes: routes}
}

// match returns the route for path and the tail after its address (no
// leading slash), or nil.
func (r *router) match(path string) (*route, string) {
	for _, rt := range r.routes {
		if rt.prefix == "/" {
			if strings.HasPrefix(path, "/") {
				return rt, path[1:]
			}
			continue
		}
		if path == rt.prefix {
			return rt, ""
		}
		if strings.HasPrefix(path, rt.prefix) && path[len(rt.prefix)] == '/' {
			return rt, path[len(rt.prefix)+1:]
		}
	}
	return nil, ""
}
