package atocli

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/atoguard/ato/verdict"
)

// The HTML report: one page, a stacked bar chart per policy drawn as SVG
// on the server, no script. html/template escapes everything the history
// holds (user ids are whatever the application used).

// verdictColours are the chart's colours, by verdict index.
var verdictColours = [5]string{"#4c9a5b", "#c9a227", "#4a78c2", "#8a5cc2", "#c2453f"}

// chart geometry.
const (
	chartW, chartH = 720, 180
	chartLeft      = 56
	chartBottom    = 22
)

type svgBar struct {
	X, W           float64
	Rects          []svgRect
	Title          string
	Label          string
	LabelX, LabelY float64
}

type svgRect struct {
	Y, H   float64
	Colour string
}

type svgChart struct {
	Name, File string
	W, H       int
	Bars       []svgBar
	Ticks      []svgTick
	Total      int64
}

type svgTick struct {
	Y     float64
	Label string
}

// charts draws each policy's verdicts over time, on a common scale so that
// the charts compare. Allowed logins are left out of the bars: they dwarf
// the rest, and friction is what a policy change moves; each bar's title
// gives all the counts.
func charts(r *Report) []svgChart {
	var peak int64
	for _, b := range r.Buckets {
		for _, v := range b.Verdicts {
			if n := v[1] + v[2] + v[3] + v[4]; n > peak {
				peak = n
			}
		}
	}
	peak = max(peak, 1)
	plotW, plotH := float64(chartW-chartLeft-8), float64(chartH-chartBottom-8)
	var out []svgChart
	for p, pol := range r.Policies {
		c := svgChart{Name: pol.Name, File: pol.File, W: chartW, H: chartH}
		for i := 0; i <= 4; i++ {
			v := peak * int64(i) / 4
			c.Ticks = append(c.Ticks, svgTick{Y: 8 + plotH - plotH*float64(v)/float64(peak), Label: count(v)})
		}
		n := len(r.Buckets)
		step := plotW / float64(max(n, 1))
		every := max(1, n/6)
		for i, b := range r.Buckets {
			v := b.Verdicts[p]
			bar := svgBar{X: chartLeft + float64(i)*step + step*0.1, W: step * 0.8}
			y := 8 + plotH
			for vi := 4; vi >= 1; vi-- { // deny at the bottom
				h := plotH * float64(v[vi]) / float64(peak)
				y -= h
				if h > 0 {
					bar.Rects = append(bar.Rects, svgRect{Y: y, H: h, Colour: verdictColours[vi]})
				}
			}
			var parts []string
			for vi, vd := range verdicts {
				parts = append(parts, fmt.Sprintf("%s %s", vd, count(v[vi])))
				c.Total += v[vi]
			}
			bar.Title = b.Start.Format(time.DateTime) + ": " + strings.Join(parts, ", ")
			if i%every == 0 {
				bar.Label, bar.LabelX, bar.LabelY = b.Start.Format("Jan 2"), bar.X+bar.W/2, chartH-6
				if i > 0 && r.Buckets[1].Start.Sub(r.Buckets[0].Start) < 24*time.Hour {
					bar.Label = b.Start.Format("Jan 2 15h")
				}
			}
			c.Bars = append(c.Bars, bar)
		}
		out = append(out, c)
	}
	return out
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"count": func(n int64) string { return count(n) },
	"pct":   pct,
	"signed": func(a, b int64) string {
		return signed(a - b)
	},
	"hits":     hits,
	"colour":   func(i int) string { return verdictColours[i] },
	"datetime": func(t time.Time) string { return t.Format(time.DateTime) },
	"verdictOf": func(p PolicyReport, v verdict.Verdict) int64 {
		return p.Verdicts[v]
	},
	"last":  func(ps []PolicyReport) PolicyReport { return ps[len(ps)-1] },
	"first": func(ps []PolicyReport) PolicyReport { return ps[0] },
	"join":  strings.Join,
	"f":     func(f float64) string { return fmt.Sprintf("%.1f", f) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ato backtest: {{.R.Source}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .7rem;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.l{text-align:left}td{white-space:nowrap}
.key span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:-1px}
svg text{font:11px system-ui,sans-serif;fill:#555}
.muted{color:#666}.wide{overflow-x:auto}
</style></head><body>
<h1>Backtest of {{(last .R.Policies).File}}</h1>
<p>{{count .R.Events}} events of {{.R.Source}}{{if .R.Events}}, {{datetime .R.From}} to {{datetime .R.To}} UTC{{end}}; {{count .R.Replayed}} evaluations replayed under each policy in {{.Elapsed}}.</p>

<h2>Verdicts</h2>
<table><tr><th>verdict</th>{{range .R.Policies}}<th>{{.Name}}</th><th></th>{{end}}<th>change</th></tr>
{{range $v := .Verdicts}}<tr><td>{{$v}}</td>{{range $.R.Policies}}<td>{{count (verdictOf . $v)}}</td><td class="muted">{{pct (verdictOf . $v) $.R.Replayed}}</td>{{end}}<td>{{signed (verdictOf (last $.R.Policies) $v) (verdictOf (first $.R.Policies) $v)}}</td></tr>
{{end}}</table>
<p class="muted">{{range .R.Policies}}{{.Name}}: {{.File}}. {{end}}</p>

<h2>Verdicts over time</h2>
<p class="key">Logins not allowed, by verdict:{{range $i, $v := .Verdicts}}{{if $i}}<span style="background:{{colour $i}}"></span>{{$v}}{{end}}{{end}}. Hover a bar for its counts.</p>
{{range .Charts}}<h3>{{.Name}} <span class="muted">({{.File}})</span></h3>
<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Name}}: verdicts over time">
{{range .Ticks}}<line x1="56" x2="712" y1="{{f .Y}}" y2="{{f .Y}}" stroke="#eee"/><text x="50" y="{{f .Y}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}{{range .Bars}}<g><title>{{.Title}}</title>{{$b := .}}{{range .Rects}}<rect x="{{f $b.X}}" y="{{f .Y}}" width="{{f $b.W}}" height="{{f .H}}" fill="{{.Colour}}"/>{{end}}</g>{{if .Label}}<text x="{{f .LabelX}}" y="{{f .LabelY}}" text-anchor="middle">{{.Label}}</text>{{end}}
{{end}}</svg>
{{end}}

<h2>Changed verdicts</h2>
<p>{{count .R.Changed}} of {{count .R.Replayed}} evaluations ({{pct .R.Changed .R.Replayed}}), of {{.ChangedUsers}} users.</p>
{{if .R.Transitions}}<table><tr><th>baseline → policy</th><th>logins</th></tr>
{{range .R.Transitions}}<tr><td>{{.From}} → {{.To}}</td><td>{{count .Count}}</td></tr>
{{end}}</table>{{end}}
{{if .R.Sample}}<p>The first {{len .R.Sample}}:</p>
<div class="wide"><table><tr><th>time (UTC)</th><th class="l">user</th><th class="l">action</th><th class="l">IP</th><th class="l">country</th><th class="l">recorded</th><th class="l">baseline → policy</th><th class="l">rule</th><th class="l">reasons</th></tr>
{{range .R.Sample}}<tr><td>{{datetime .Time}}</td><td class="l">{{.User}}</td><td class="l">{{.Action}}</td><td class="l">{{.IP}}</td><td class="l">{{.Country}}</td><td class="l">{{.Recorded}}</td><td class="l">{{.From}} → {{.To}}</td><td class="l">{{.ToRule}}</td><td class="l">{{join .Reasons ", "}}</td></tr>
{{end}}</table></div>{{end}}

<h2>Rules that decided</h2>
<table><tr><th>rule</th>{{range .R.Policies}}<th>{{.Name}}</th>{{end}}</tr>
{{range $rule := .Rules}}<tr><td>{{$rule}}</td>{{range $.R.Policies}}<td>{{count (hits . $rule)}}</td>{{end}}</tr>
{{end}}</table>

<h2>Friction on users with a long history</h2>
<p>{{count .R.EstablishedLogins}} logins that the history says were the users' own (let in, or the challenge passed), by {{.EstablishedUsers}} users who had logged in successfully {{.EstLogins}}+ times over {{.EstDays}}+ days before.</p>
<table><tr><th>policy</th><th>not allowed</th><th></th><th>users who met any</th></tr>
{{range .R.Policies}}<tr><td>{{.Name}}</td><td>{{count .Friction}}</td><td class="muted">{{pct .Friction $.R.EstablishedLogins}}</td><td>{{.FrictionUsers}}</td></tr>
{{end}}</table>
<p class="muted">Written by ato backtest. A replay recognises devices by the device id the history recorded and takes a challenge as passed when the recorded attempt was the user's.</p>
</body></html>
`))

// writeHTML writes the report as one page.
func writeHTML(w io.Writer, r *Report) error {
	return reportTemplate.Execute(w, map[string]any{
		"R": r, "Verdicts": verdicts, "Charts": charts(r), "Rules": ruleNames(r),
		"ChangedUsers": count(int64(r.ChangedUsers)), "EstablishedUsers": count(int64(r.EstablishedUsers)),
		"EstLogins": establishedLogins, "EstDays": int(establishedAge.Hours() / 24),
		"Elapsed": r.Elapsed.Round(time.Millisecond).String(),
	})
}
