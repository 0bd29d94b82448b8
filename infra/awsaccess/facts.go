package awsaccess

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"regexp"
	"slices"
)

// funcFacts is what one function or method does in its own body.
type funcFacts struct {
	ops      []Op
	calls    []ownedCall
	edges    []string // same-package functions and methods it calls
	problems []string
}

// ownedCall is a call through an interface field of owner.
type ownedCall struct {
	Call
	owner string
	pos   string
}

// paginator matches the SDK's paginator constructors, which call the named
// operation (NewQueryPaginator: Query).
var paginator = regexp.MustCompile(`^New(\w+)Paginator$`)

// indexed are the operations that read a secondary index when given an
// IndexName.
var indexed = []string{"Query", "Scan"}

// notOperations are client methods that call no service.
var notOperations = []string{"Options"}

// batchActions maps the SQS and SNS batch operations to the IAM action that
// allows them: IAM has no action of their own.
var batchActions = map[string]string{
	"sqs:SendMessageBatch":             "sqs:SendMessage",
	"sqs:DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"sns:PublishBatch":                 "sns:Publish",
}

// s3Actions maps each S3 operation the adapters may call to the IAM action
// that allows it: IAM names S3's actions apart from its operations (a
// multipart upload's every step is s3:PutObject, a HeadObject is
// s3:GetObject), so an S3 operation not listed here is a problem rather
// than a guess. A presigned request acts with its signer's permissions
// when it is used: presigning a GetObject needs s3:GetObject.
var s3Actions = map[string]string{
	"PutObject":               "s3:PutObject",
	"CreateMultipartUpload":   "s3:PutObject",
	"UploadPart":              "s3:PutObject",
	"CompleteMultipartUpload": "s3:PutObject",
	"AbortMultipartUpload":    "s3:AbortMultipartUpload",
	"ListParts":               "s3:ListMultipartUploadParts",
	"GetObject":               "s3:GetObject",
	"HeadObject":              "s3:GetObject",
	"DeleteObject":            "s3:DeleteObject",
	"DeleteObjects":           "s3:DeleteObject",
	"PresignGetObject":        "s3:GetObject",
	"PresignHeadObject":       "s3:GetObject",
	"PresignPutObject":        "s3:PutObject",
	"PresignDeleteObject":     "s3:DeleteObject",
}

// transactItemActions maps the kinds of item a DynamoDB transaction holds to
// the IAM action each needs: IAM has no action for TransactWriteItems or
// TransactGetItems, and authorises a transaction by the actions of its items
// ("Using IAM with DynamoDB transactions").
var transactItemActions = map[string]map[string]string{
	"dynamodb:TransactWriteItems": {
		"Put":            "dynamodb:PutItem",
		"Update":         "dynamodb:UpdateItem",
		"Delete":         "dynamodb:DeleteItem",
		"ConditionCheck": "dynamodb:ConditionCheckItem",
	},
	"dynamodb:TransactGetItems": {
		"Get": "dynamodb:GetItem",
	},
}

func (p *pkgInfo) facts(fn *funcInfo) *funcFacts {
	f := &funcFacts{}
	d := fn.decl
	if d.Body == nil {
		return f
	}
	//lint:ignore SA1019 the analysis reads syntax without type checking, and the parser's object resolution is the scope it needs
	env := map[*ast.Object]typ{}
	if d.Recv != nil {
		for _, n := range d.Recv.List[0].Names {
			env[n.Obj] = typ{strct: fn.recvType}
		}
	}
	addParams := func(ft *ast.FuncType) {
		for _, field := range ft.Params.List {
			t := p.classify(field.Type, fn.file)
			for _, n := range field.Names {
				if n.Obj != nil {
					env[n.Obj] = t
				}
			}
		}
	}
	addParams(d.Type)
	ast.Inspect(d.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			addParams(n.Type)
		case *ast.AssignStmt:
			// x := &T{...} with T a struct of the package.
			if n.Tok == token.DEFINE && len(n.Lhs) == len(n.Rhs) {
				for i, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Obj != nil {
						if lit := compositeOf(n.Rhs[i]); lit != nil {
							if t := p.classify(lit.Type, fn.file); t.strct != "" {
								env[id.Obj] = t
							}
						}
					}
				}
			}
		case *ast.ValueSpec:
			if n.Type != nil {
				t := p.classify(n.Type, fn.file)
				for _, id := range n.Names {
					if id.Obj != nil {
						env[id.Obj] = t
					}
				}
			}
		}
		return true
	})

	var typeOf func(ast.Expr) typ
	typeOf = func(e ast.Expr) typ {
		switch e := e.(type) {
		case *ast.ParenExpr:
			return typeOf(e.X)
		case *ast.StarExpr:
			return typeOf(e.X)
		case *ast.UnaryExpr:
			if e.Op == token.AND {
				return typeOf(e.X)
			}
		case *ast.Ident:
			if e.Obj != nil {
				return env[e.Obj]
			}
		case *ast.SelectorExpr:
			if s := typeOf(e.X).strct; s != "" && p.structs[s] != nil {
				return p.structs[s].fields[e.Sel.Name]
			}
		}
		return typ{}
	}
	pos := func(n ast.Node) string { return p.fset.Position(n.Pos()).String() }
	addOp := func(svc, name string, call *ast.CallExpr, input ast.Expr) {
		if slices.Contains(notOperations, name) {
			return
		}
		op := Op{Action: actionPrefix(svc) + ":" + name}
		if a, ok := batchActions[op.Action]; ok {
			op.Action = a
		}
		if svc == "s3" {
			a, ok := s3Actions[name]
			if !ok {
				f.problems = append(f.problems, fmt.Sprintf("%s: s3 %s: no IAM action known for it (add it to s3Actions)", pos(call), name))
				return
			}
			op.Action = a
		}
		if kinds, ok := transactItemActions[op.Action]; ok {
			actions, err := transactActions(input, d.Body, kinds)
			if err != nil {
				f.problems = append(f.problems, fmt.Sprintf("%s: %s: %v", pos(call), op.Action, err))
			}
			for _, a := range actions {
				if o := (Op{Action: a}); !slices.Contains(f.ops, o) {
					f.ops = append(f.ops, o)
				}
			}
			return
		}
		if slices.Contains(indexed, name) {
			idx, err := indexOf(input, d.Body)
			if err != nil {
				f.problems = append(f.problems, fmt.Sprintf("%s: %s: %v", pos(call), op.Action, err))
			}
			op.Index = idx
		}
		if !slices.Contains(f.ops, op) {
			f.ops = append(f.ops, op)
		}
	}
	// accounted holds the client and interface-field expressions whose use
	// the analysis follows; any other use of one is a problem.
	accounted := map[ast.Expr]bool{}
	passed := func(args []ast.Expr) {
		// The callee declares the client parameter, so its own facts count
		// the operations on it.
		for _, a := range args {
			if typeOf(a).service != "" {
				accounted[a] = true
			}
		}
	}
	ast.Inspect(d.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				if isNil(n.Y) {
					accounted[n.X] = true
				}
				if isNil(n.X) {
					accounted[n.Y] = true
				}
			}
		case *ast.CallExpr:
			switch fun := n.Fun.(type) {
			case *ast.SelectorExpr:
				tx := typeOf(fun.X)
				switch {
				case tx.service != "":
					accounted[fun.X] = true
					addOp(tx.service, fun.Sel.Name, n, arg(n.Args, 1))
				case tx.dep:
					if sel, ok := unparen(fun.X).(*ast.SelectorExpr); ok {
						if owner := typeOf(sel.X).strct; owner != "" {
							accounted[fun.X] = true
							f.calls = append(f.calls, ownedCall{Call{sel.Sel.Name, fun.Sel.Name}, owner, pos(n)})
						}
					}
				case tx.strct != "":
					name := tx.strct + "." + fun.Sel.Name
					if _, ok := p.funcs[name]; !ok {
						break
					}
					if tx.strct != fn.recvType && p.structs[tx.strct].holdsClient() {
						f.problems = append(f.problems, fmt.Sprintf("%s: calls %s of another adapter, whose table or queue a walk cannot tell", pos(n), name))
					}
					f.edges = append(f.edges, name)
					passed(n.Args)
				default:
					x, ok := fun.X.(*ast.Ident)
					if !ok || x.Obj != nil {
						break
					}
					svc, ok := serviceOf(fn.file.imports[x.Name])
					if m := paginator.FindStringSubmatch(fun.Sel.Name); ok && m != nil && len(n.Args) == 2 && typeOf(n.Args[0]).service == svc {
						accounted[n.Args[0]] = true
						addOp(svc, m[1], n, n.Args[1])
					}
				}
			case *ast.Ident:
				if _, ok := p.funcs[fun.Name]; ok && (fun.Obj == nil || fun.Obj.Kind == ast.Fun) {
					f.edges = append(f.edges, fun.Name)
					passed(n.Args)
				}
			}
		}
		return true
	})
	ast.Inspect(d.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncType:
			return false // parameter declarations, not uses
		case *ast.Ident, *ast.SelectorExpr:
			e := n.(ast.Expr)
			if t := typeOf(e); (t.service != "" || t.dep) && !accounted[e] {
				what := "an AWS client"
				if t.dep {
					what = "an interface field"
				}
				f.problems = append(f.problems, fmt.Sprintf("%s: %s is used other than by calling it", pos(n), what))
				return false
			}
		}
		return true
	})
	return f
}

// indexOf tells whether an operation's input names an index: in the
// composite literal itself, in the one a local variable was declared with,
// or assigned to that variable's IndexName later in the function.
func indexOf(input ast.Expr, body *ast.BlockStmt) (bool, error) {
	lit, id, err := inputLiteral(input)
	if err != nil {
		return false, fmt.Errorf("%v: cannot tell whether it reads an index", err)
	}
	return hasKey(lit, "IndexName") || assignsField(body, id, "IndexName"), nil
}

// transactActions lists the IAM actions of the items of a transaction's
// input: each element of its TransactItems, written out in the literal or
// in the local slice it names (see localItems), is one item whose kind
// (Put, Update, ...) kinds maps to its action. An input whose items are not
// written out there cannot be told.
func transactActions(input ast.Expr, body *ast.BlockStmt, kinds map[string]string) ([]string, error) {
	lit, id, err := inputLiteral(input)
	if err != nil {
		return nil, fmt.Errorf("%v: cannot tell the kinds of its items", err)
	}
	if assignsField(body, id, "TransactItems") {
		return nil, errors.New("TransactItems is assigned apart from its input's literal: cannot tell the kinds of its items")
	}
	value := keyValue(lit, "TransactItems")
	var elts []ast.Expr
	if items := compositeOf(value); items != nil {
		elts = items.Elts
	} else if v, ok := unparen(value).(*ast.Ident); ok && v.Obj != nil {
		if elts, err = localItems(body, v); err != nil {
			return nil, err
		}
	} else {
		return nil, errors.New("TransactItems is not a literal: cannot tell the kinds of its items")
	}
	if len(elts) == 0 {
		return nil, errors.New("TransactItems holds no item")
	}
	var out []string
	for _, el := range elts {
		item := compositeOf(el)
		if item == nil {
			return nil, errors.New("an item of TransactItems is not a literal: cannot tell its kind")
		}
		var found []string
		for _, e := range item.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				return nil, errors.New("an item of TransactItems is not written with field names: cannot tell its kind")
			}
			k, ok := kv.Key.(*ast.Ident)
			if !ok {
				continue
			}
			if a, ok := kinds[k.Name]; ok && !isNil(kv.Value) {
				found = append(found, a)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("an item of TransactItems sets %d of %v: want exactly one", len(found), sortedKeys(kinds))
		}
		if !slices.Contains(out, found[0]) {
			out = append(out, found[0])
		}
	}
	slices.Sort(out)
	return out, nil
}

// localItems are the items of the local slice v: those of the literal it
// is declared with, and those each append(v, ...) assigned to it adds. Any
// other assignment to it, or an append of a slice (v = append(v, w...)),
// leaves its items untold.
func localItems(body *ast.BlockStmt, v *ast.Ident) ([]ast.Expr, error) {
	decl, ok := v.Obj.Decl.(*ast.AssignStmt)
	if !ok {
		return nil, fmt.Errorf("TransactItems is %s, not declared with a literal: cannot tell the kinds of its items", v.Name)
	}
	var out []ast.Expr
	var problem error
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok {
			return true
		}
		for i, l := range as.Lhs {
			if li, ok := l.(*ast.Ident); !ok || li.Obj != v.Obj || i >= len(as.Rhs) {
				continue
			}
			rhs := as.Rhs[i]
			if as == decl {
				if lit := compositeOf(rhs); lit != nil {
					out = append(out, lit.Elts...)
					continue
				}
			} else if call, ok := unparen(rhs).(*ast.CallExpr); ok && isIdentNamed(call.Fun, "append") && call.Ellipsis == token.NoPos &&
				len(call.Args) > 0 && isObj(call.Args[0], v.Obj) {
				out = append(out, call.Args[1:]...)
				continue
			}
			problem = fmt.Errorf("TransactItems %s is assigned other than by appending items: cannot tell the kinds of its items", v.Name)
		}
		return true
	})
	if problem != nil {
		return nil, problem
	}
	return out, nil
}

func isIdentNamed(e ast.Expr, name string) bool {
	id, ok := unparen(e).(*ast.Ident)
	return ok && id.Name == name && id.Obj == nil
}

// isObj: e names the object obj.
//
//lint:ignore SA1019 the analysis reads syntax without type checking, and the parser's object resolution is the scope it needs
func isObj(e ast.Expr, obj *ast.Object) bool {
	id, ok := unparen(e).(*ast.Ident)
	return ok && id.Obj == obj
}

// inputLiteral is the composite literal of an operation's input: the
// input itself, or the literal the local variable it names was declared
// with (id: that variable, nil for a literal).
func inputLiteral(input ast.Expr) (*ast.CompositeLit, *ast.Ident, error) {
	if input == nil {
		return nil, nil, errors.New("no input")
	}
	if lit := compositeOf(input); lit != nil {
		return lit, nil, nil
	}
	e := unparen(input)
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = unparen(u.X)
	}
	id, ok := e.(*ast.Ident)
	if !ok || id.Obj == nil {
		return nil, nil, errors.New("input is neither a literal nor a local variable")
	}
	var lit *ast.CompositeLit
	switch decl := id.Obj.Decl.(type) {
	case *ast.AssignStmt:
		for i, l := range decl.Lhs {
			if li, ok := l.(*ast.Ident); ok && li.Obj == id.Obj && i < len(decl.Rhs) {
				lit = compositeOf(decl.Rhs[i])
			}
		}
	case *ast.ValueSpec:
		for i, n := range decl.Names {
			if n.Obj == id.Obj && i < len(decl.Values) {
				lit = compositeOf(decl.Values[i])
			}
		}
	}
	if lit == nil {
		return nil, nil, fmt.Errorf("%s is not declared with a literal", id.Name)
	}
	return lit, id, nil
}

// assignsField tells whether body assigns to field of the local variable id.
func assignsField(body *ast.BlockStmt, id *ast.Ident, field string) bool {
	if id == nil || id.Obj == nil {
		return false
	}
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok {
			for _, l := range as.Lhs {
				if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == field {
					if x, ok := sel.X.(*ast.Ident); ok && x.Obj == id.Obj {
						found = true
					}
				}
			}
		}
		return true
	})
	return found
}

func compositeOf(e ast.Expr) *ast.CompositeLit {
	e = unparen(e)
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = unparen(u.X)
	}
	lit, _ := e.(*ast.CompositeLit)
	return lit
}

func hasKey(lit *ast.CompositeLit, key string) bool { return keyValue(lit, key) != nil }

// keyValue is the value lit gives its field key, or nil.
func keyValue(lit *ast.CompositeLit, key string) ast.Expr {
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == key {
				return kv.Value
			}
		}
	}
	return nil
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

func isNil(e ast.Expr) bool {
	id, ok := unparen(e).(*ast.Ident)
	return ok && id.Name == "nil" && id.Obj == nil
}

func arg(args []ast.Expr, i int) ast.Expr {
	if i < len(args) {
		return args[i]
	}
	return nil
}
