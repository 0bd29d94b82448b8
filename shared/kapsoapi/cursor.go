package kapsoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// maxCursorLimit is the largest page Kapso serves on cursor-paged lists.
const maxCursorLimit = 100

// listCursor fetches one page of a cursor-paged list. Items are returned
// undecoded so callers can keep each exactly as Kapso sent it; json copies
// them out of the response body, so they are safe to keep.
func listCursor(ctx context.Context, c *Client, cl call, after string, limit int) ([]json.RawMessage, string, error) {
	if limit <= 0 || limit > maxCursorLimit {
		limit = maxCursorLimit
	}
	q := url.Values{}
	for k, v := range cl.query {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(limit))
	if after != "" {
		q.Set("after", after)
	}
	cl.query = q
	var items []json.RawMessage
	info, err := c.do(ctx, cl, &items)
	if err != nil {
		return nil, "", err
	}
	// An empty page ends the list whatever paging says, so a server that
	// keeps announcing more cannot keep a caller looping on nothing.
	if len(items) == 0 || !info.paging.hasNext() {
		return items, "", nil
	}
	next := string(info.paging.Cursors.After)
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
