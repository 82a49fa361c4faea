// Package pages streams records a page at a time: how the SQL stores
// export what they hold (storage.Exporter) without holding it all.
package pages

import "context"

// Each calls read for one page after another, each read into page[:0],
// and fn with every record of a page once it is read, until a page has
// fewer than size records. read keeps its own cursor. It stops at the first
// error of read or fn, returned as given, and with the context's error
// when ctx is done between pages.
func Each[T any](ctx context.Context, size int, read func(page []T) ([]T, error), fn func(T) error) error {
	var page []T
	for {
		var err error
		if page, err = read(page[:0]); err != nil {
			return err
		}
		for i := range page {
			if err := fn(page[i]); err != nil {
				return err
			}
		}
		if len(page) < size {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
