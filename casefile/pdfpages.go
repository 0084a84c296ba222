package casefile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
)

// The contents page prints the page on which each heading falls. Chromium does not say where it
// breaks pages, but the PDF it prints does: every element a link points to (the contents page
// links every heading) becomes a named destination, /Dests << /anchor [pageRef /XYZ …] >>, and
// the page tree orders the page objects. renderPDF prints once, reads the destinations with
// destPages, and prints again with the numbers in place (the first printing reserves their width,
// so the second breaks pages the same way).

// Limits on reading a printed PDF: the parts read are small dictionaries.
const (
	maxPDFObject = 16 << 20 // one object's dictionary
	maxPDFPages  = 1_000_000
	maxPDFDepth  = 64 // page tree depth
)

var (
	objStart  = regexp.MustCompile(`^(\d+) 0 obj\s*$`)
	kidsRe    = regexp.MustCompile(`/Kids\s*\[([^\]]*)\]`)
	refRe     = regexp.MustCompile(`(\d+)\s+0\s+R`)
	destRe    = regexp.MustCompile(`/([A-Za-z0-9_.\-]+)\s*\[\s*(\d+)\s+0\s+R\s*/XYZ`)
	destsRefs = regexp.MustCompile(`/Dests\s+(\d+)\s+0\s+R`)
)

// destPages reads a PDF as Chromium (Skia) writes it, one object per "N 0 obj" line, and returns
// the 1-based page number of every named destination. It keeps only the dictionaries it needs:
// page-tree nodes, the destinations and the catalogue's reference to them; page contents are
// skipped line by line. A PDF it cannot read gives an error, and the report is printed without
// page numbers on its contents page.
func destPages(r io.Reader) (map[string]int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	type node struct {
		kids   []int
		isPage bool
		parent bool
	}
	nodes := map[int]*node{}
	destObjs := map[int][]byte{}
	destsObj := -1
	var cur int = -1
	var buf bytes.Buffer
	skipping := false
	flush := func() {
		if cur < 0 {
			return
		}
		b := buf.Bytes()
		switch {
		case bytes.Contains(b, []byte("/Type /Pages")):
			n := &node{parent: bytes.Contains(b, []byte("/Parent"))}
			if m := kidsRe.FindSubmatch(b); m != nil {
				for _, k := range refRe.FindAllSubmatch(m[1], -1) {
					if id, err := strconv.Atoi(string(k[1])); err == nil && len(n.kids) < maxPDFPages {
						n.kids = append(n.kids, id)
					}
				}
			}
			nodes[cur] = n
		case bytes.Contains(b, []byte("/Type /Page")):
			nodes[cur] = &node{isPage: true}
		case bytes.Contains(b, []byte("/XYZ")) && !bytes.Contains(b, []byte("/Type")):
			destObjs[cur] = bytes.Clone(b)
		}
		if m := destsRefs.FindSubmatch(b); m != nil {
			destsObj, _ = strconv.Atoi(string(m[1]))
		}
		cur = -1
		buf.Reset()
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line is stream data (or a huge dictionary, which no part we need is).
			if cur >= 0 && !skipping {
				if buf.Len()+len(line) > maxPDFObject {
					skipping = true
				} else {
					buf.Write(line)
				}
			}
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		t := bytes.TrimRight(line, "\r\n")
		switch {
		case objStart.Match(t):
			flush()
			cur, _ = strconv.Atoi(string(objStart.FindSubmatch(t)[1]))
			skipping = false
		case bytes.Equal(t, []byte("endobj")):
			flush()
		case bytes.Equal(t, []byte("stream")) || bytes.HasSuffix(t, []byte(">> stream")) || bytes.HasSuffix(t, []byte(">>stream")):
			if cur >= 0 && !skipping {
				buf.Write(t)
				skipping = true
			}
		case cur >= 0 && !skipping:
			if buf.Len()+len(line) > maxPDFObject {
				skipping = true
			} else {
				buf.Write(line)
			}
		}
		if err == io.EOF {
			flush()
			break
		}
	}
	// The root of the page tree is the Pages node without a parent.
	root := -1
	for id, n := range nodes {
		if !n.isPage && !n.parent {
			if root >= 0 {
				return nil, errors.New("pdf: more than one page tree")
			}
			root = id
		}
	}
	if root < 0 {
		return nil, errors.New("pdf: no page tree")
	}
	pageNo := map[int]int{}
	visited := map[int]bool{}
	var walk func(id, depth int) error
	walk = func(id, depth int) error {
		if depth > maxPDFDepth {
			return errors.New("pdf: page tree too deep")
		}
		n, ok := nodes[id]
		if !ok {
			return errors.New("pdf: page tree names a missing object")
		}
		if n.isPage {
			if _, dup := pageNo[id]; dup {
				return errors.New("pdf: a page appears twice in the page tree")
			}
			pageNo[id] = len(pageNo) + 1
			return nil
		}
		if visited[id] {
			return errors.New("pdf: a page tree node appears twice")
		}
		visited[id] = true
		for _, k := range n.kids {
			if err := walk(k, depth+1); err != nil {
				return err
			}
			if len(pageNo) > maxPDFPages {
				return errors.New("pdf: too many pages")
			}
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	b, ok := destObjs[destsObj]
	if !ok {
		return nil, errors.New("pdf: no named destinations")
	}
	out := map[string]int{}
	for _, m := range destRe.FindAllSubmatch(b, -1) {
		id, err := strconv.Atoi(string(m[2]))
		if err != nil {
			continue
		}
		if p, ok := pageNo[id]; ok {
			out[string(m[1])] = p
		}
	}
	return out, nil
}
