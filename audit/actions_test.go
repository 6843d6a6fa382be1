package audit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/usher-go/usher/audit"
)

// Every action the package declares is in Actions: the filter drop-downs
// offer it, and Manager.Record refuses it to a host.
func TestActionsListsEveryAction(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, f := range files {
		if filepath.Ext(f) != ".go" || len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || vs.Type == nil || len(vs.Values) != 1 {
				return true
			}
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Action" {
				return true
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			declared++
			if !slices.Contains(audit.Actions(), audit.Action(v)) {
				t.Errorf("%s (%s, in %s) is not in Actions()", vs.Names[0].Name, v, f)
			}
			return true
		})
	}
	if declared != len(audit.Actions()) {
		t.Errorf("%d actions declared, Actions() lists %d", declared, len(audit.Actions()))
	}
}
