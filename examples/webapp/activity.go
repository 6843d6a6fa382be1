package main

import (
	"context"
	"fmt"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// activityDays is how far back the dashboard's login chart looks.
const activityDays = 30

// The chart's geometry, in SVG user units: one slot per day holding its
// three bars side by side, and the plot's height.
const (
	chartBarWidth = 5
	chartSlot     = 3*chartBarWidth + 5
	chartPlot     = 100
	chartTop      = 12 // room for the scale's label
	chartBottom   = 16 // room for the dates
)

// loginChart is the dashboard's login activity: an inline SVG bar chart
// drawn on the server (no script: the CSP allows none inline) and the same
// numbers as a table, for screen readers and anyone who wants the figures.
type loginChart struct {
	Days          []auth.LoginDay
	Bars          []chartBar
	Max           int64
	Width, Height int
	PlotBottom    int // the baseline's y
	First, Last   string
	// Totals over the days: succeeded, failed, throttled.
	Succeeded, Failed, Throttled int64
}

// chartBar is one bar: a day's count of one series.
type chartBar struct {
	X, Y, W, H int
	Series     string // "succeeded", "failed" or "throttled": its CSS class
	Label      string // what a pointer's tooltip (the SVG title) says
}

// loginActivity builds the chart for p, or nil when p may not read the
// audit trail (asking first keeps the dashboard from recording a denial
// on every visit).
func (s *server) loginActivity(ctx context.Context, p *auth.Principal) (*loginChart, error) {
	if !p.Can(group.AuditRead) {
		return nil, nil
	}
	days, err := s.m.LoginActivity(ctx, p, activityDays)
	if err != nil {
		return nil, err
	}
	return newLoginChart(days), nil
}

// newLoginChart lays out the bars: heights scale to the largest count, and
// a count above zero is at least one unit tall, so it never vanishes.
func newLoginChart(days []auth.LoginDay) *loginChart {
	c := &loginChart{Days: days, Width: len(days) * chartSlot, PlotBottom: chartTop + chartPlot}
	c.Height = c.PlotBottom + chartBottom
	for _, d := range days {
		c.Max = max(c.Max, d.Succeeded, d.Failed, d.Throttled)
		c.Succeeded += d.Succeeded
		c.Failed += d.Failed
		c.Throttled += d.Throttled
	}
	if len(days) > 0 {
		c.First, c.Last = days[0].Day.Format("Jan 2"), days[len(days)-1].Day.Format("Jan 2")
	}
	for i, d := range days {
		for j, series := range []struct {
			name string
			n    int64
		}{{"succeeded", d.Succeeded}, {"failed", d.Failed}, {"throttled", d.Throttled}} {
			if series.n == 0 {
				continue
			}
			h := max(int(series.n*chartPlot/c.Max), 1)
			c.Bars = append(c.Bars, chartBar{
				X: i*chartSlot + j*chartBarWidth, Y: c.PlotBottom - h, W: chartBarWidth, H: h, Series: series.name,
				Label: fmt.Sprintf("%s: %d %s", d.Day.Format("2006-01-02"), series.n, series.name),
			})
		}
	}
	return c
}

// Summary says the chart in one sentence, its accessible name.
func (c *loginChart) Summary() string {
	return fmt.Sprintf("Logins over the last %d days, %s to %s: %d succeeded, %d failed, %d throttled.",
		len(c.Days), c.First, c.Last, c.Succeeded, c.Failed, c.Throttled)
}
