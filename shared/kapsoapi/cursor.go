package kapsoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// maxCursorLimit is the largest page Kapso serves on cursor-paged lists.
const maxCursorLimit = 100

// pageCursorPrefix starts the cursors the client makes for lists Kapso
// pages by number (the Platform API's page and per_page, with a meta
// block): page:<page>:<per_page>.
const pageCursorPrefix = "page:"

func pageCursor(page, perPage int) string {
	return fmt.Sprintf("%s%d:%d", pageCursorPrefix, page, perPage)
}

// parsePageCursor reads a cursor pageCursor made; a cursor Kapso made is
// passed back to Kapso as it is.
func parsePageCursor(s string) (page, perPage int, ok bool) {
	rest, ok := strings.CutPrefix(s, pageCursorPrefix)
	if !ok {
		return 0, 0, false
	}
	ps, pps, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, 0, false
	}
	page, err1 := strconv.Atoi(ps)
	perPage, err2 := strconv.Atoi(pps)
	if err1 != nil || err2 != nil || page < 1 || perPage < 1 {
		return 0, 0, false
	}
	return page, perPage, true
}

// listCursor fetches one page of a list paged by Graph cursors (paging) or
// by page number (meta). Items are returned undecoded so callers can keep
// each exactly as Kapso sent it; json copies them out of the response body,
// so they are safe to keep.
func listCursor(ctx context.Context, c *Client, cl call, after string, limit int) ([]json.RawMessage, string, error) {
	if limit <= 0 || limit > maxCursorLimit {
		limit = maxCursorLimit
	}
	q := url.Values{}
	for k, v := range cl.query {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(limit))
	page, perPage, byPage := parsePageCursor(after)
	switch {
	case byPage:
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(perPage))
	case after != "":
		q.Set("after", after)
	default:
		// The Platform API pages by number and serves its default page size
		// (20) to a first request that names none: ask for limit, as the
		// later pages do.
		page = 1
		q.Set("page", "1")
		q.Set("per_page", strconv.Itoa(limit))
	}
	cl.query = q
	var items []json.RawMessage
	info, err := c.do(ctx, cl, &items)
	if err != nil {
		return nil, "", err
	}
	// An empty page ends the list whatever paging says, so a server that
	// keeps announcing more cannot keep a caller looping on nothing.
	if len(items) == 0 {
		return items, "", nil
	}
	var next string
	switch m := info.meta; {
	case info.paging != nil:
		if !info.paging.hasNext() {
			return items, "", nil
		}
		next = string(info.paging.Cursors.After)
	case m != nil && m.TotalPages > page:
		// Kapso's Platform lists page by number: the next page keeps the
		// size this one was served at, or items would be skipped.
		size := m.PerPage
		if size <= 0 {
			size = len(items)
		}
		next = pageCursor(page+1, size)
	default:
		return items, "", nil
	}
	if next != "" && next == after {
		return nil, "", fmt.Errorf("next cursor %q repeats the current one", next)
	}
	return items, next, nil
}

// cursorPage reads one page of a cursor-paged list and converts its items.
func cursorPage[W, T any](ctx context.Context, c *Client, cl call, after string, limit int,
	conv func(W, json.RawMessage) (T, error)) (messaging.ListedPage[T], error) {
	raws, next, err := listCursor(ctx, c, cl, after, limit)
	if err != nil {
		return messaging.ListedPage[T]{}, err
	}
	items, err := convertRaw(raws, conv)
	if err != nil {
		return messaging.ListedPage[T]{}, err
	}
	return messaging.ListedPage[T]{Items: items, After: next}, nil
}

// cursorPages reads every page of a cursor-paged list, following
// cursors.after from the first page, at most c.maxPages pages, and
// converts the items.
func cursorPages[W, T any](ctx context.Context, c *Client, cl call, conv func(W, json.RawMessage) (T, error)) ([]T, error) {
	var all []T
	after := ""
	for page := 1; ; page++ {
		if page > c.maxPages {
			return nil, fmt.Errorf("more than %d pages", c.maxPages)
		}
		p, err := cursorPage(ctx, c, cl, after, maxCursorLimit, conv)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", page, err)
		}
		all = append(all, p.Items...)
		if p.After == "" {
			return all, nil
		}
		after = p.After
	}
}

// convertRaw decodes each raw item into its wire form and converts it,
// failing on the first that looks wrong.
func convertRaw[W, T any](raws []json.RawMessage, conv func(W, json.RawMessage) (T, error)) ([]T, error) {
	out := make([]T, 0, len(raws))
	for i, raw := range raws {
		var w W
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		v, err := conv(w, raw)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}
