package metrics

import (
	"regexp"
	"strings"
)

// promqlRefs is what an expression refers to: metric names, label names
// (with the metric of the selector they appear in, "" in a grouping list)
// and Grafana variables.
type promqlRefs struct {
	metrics []string
	labels  []labelRef
	vars    []string
}

type labelRef struct{ metric, label string }

// promqlKeywords are identifiers that are neither metrics nor functions
// called with parentheses right after them.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true,
	"limit_ratio": true,
}

// promqlGrouping are the keywords followed by a list of label names.
var promqlGrouping = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

var grafanaVar = regexp.MustCompile(`\$\{?(\w+)`)

// scanPromQL finds what expr refers to. It is a lexer, not a parser: it
// knows strings, selectors, ranges, grouping lists and function calls,
// which is all it takes to tell metric and label names apart from the rest
// in the expressions a dashboard or a rule file has. Grafana variables are
// skipped where they stand.
func scanPromQL(expr string) promqlRefs {
	var r promqlRefs
	for _, m := range grafanaVar.FindAllStringSubmatch(expr, -1) {
		r.vars = append(r.vars, m[1])
	}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(i int) int {
		for i < len(expr) && strings.IndexByte(" \t\r\n", expr[i]) >= 0 {
			i++
		}
		return i
	}
	skipString := func(i int) int { // expr[i] is the opening quote
		q := expr[i]
		for i++; i < len(expr) && expr[i] != q; i++ {
			if expr[i] == '\\' && q != '`' {
				i++
			}
		}
		return i + 1
	}
	// labelList reads "(a, b, …)" at i and returns the names and the end.
	labelList := func(i int) ([]string, int) {
		end := strings.IndexByte(expr[i:], ')')
		if end < 0 {
			return nil, len(expr)
		}
		var names []string
		for _, n := range strings.Split(expr[i+1:i+end], ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		return names, i + end + 1
	}
	last := "" // the metric name just read, for a selector that follows
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i, last = skipString(i), ""
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++ // keeps last: "metric {…}" is a selector too
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				i = closing(expr, i, '}')
				continue
			}
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
		case c == '[':
			i = closing(expr, i, ']')
		case c == '{':
			// Matchers: name op value, separated by commas.
			i++
			for i < len(expr) && expr[i] != '}' {
				i = skipSpace(i)
				start := i
				for i < len(expr) && isIdent(expr[i]) {
					i++
				}
				if i > start {
					r.labels = append(r.labels, labelRef{metric: last, label: expr[start:i]})
				}
				for i < len(expr) && expr[i] != '"' && expr[i] != '\'' && expr[i] != '`' && expr[i] != '}' {
					i++
				}
				if i < len(expr) && expr[i] != '}' {
					i = skipString(i)
				}
				i = skipSpace(i)
				if i < len(expr) && expr[i] == ',' {
					i++
				}
			}
			i, last = i+1, ""
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
			last = ""
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := skipSpace(i)
			switch {
			case promqlGrouping[word]:
				if next < len(expr) && expr[next] == '(' {
					var names []string
					names, i = labelList(next)
					for _, n := range names {
						r.labels = append(r.labels, labelRef{label: n})
					}
				}
				last = ""
			case promqlKeywords[word] || next < len(expr) && expr[next] == '(':
				last = "" // an operator, aggregation or function
			default:
				r.metrics = append(r.metrics, word)
				last = word
			}
		default:
			i, last = i+1, ""
		}
	}
	return r
}

// closing returns the index after the first c at or after i, or len(s).
func closing(s string, i int, c byte) int {
	if j := strings.IndexByte(s[i:], c); j >= 0 {
		return i + j + 1
	}
	return len(s)
}
