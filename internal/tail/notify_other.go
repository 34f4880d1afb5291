//go:build !linux

package tail

import (
	"context"
	"time"
)

// notifier is inotify's stand-in where there is none: polling alone.
type notifier struct{}

func newNotifier() *notifier                                         { return nil }
func (n *notifier) watch(string)                                     {}
func (n *notifier) wait(context.Context, time.Duration) (bool, bool) { return false, false }
func (n *notifier) close() error                                     { return nil }
