package search

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// URLListHasClasses reports whether the URL list at path says each URL's
// class: a CSV whose header has a "class" column beside "url". A plain
// list, or a CSV without the column, leaves the class to the source's
// configuration. It reads only up to the header.
func URLListHasClasses(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("urls: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, maxLineLen)
	for first := true; ; first = false {
		line, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("urls: %s: %w", path, err)
		}
		text := strings.TrimSpace(line)
		if first {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text != "" && !strings.HasPrefix(text, "#") {
			cols, _, ok := csvHeader(text)
			_, class := cols["class"]
			return ok && class, nil
		}
		if err != nil {
			return false, nil // an empty list
		}
	}
}
