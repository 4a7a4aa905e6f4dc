// Package spec holds evserver's executable specs.
package spec
