# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Draw a :class:`~vsm_devenv.demo.timeline.Timeline` as an SVG picture.

Used space (filled), filesystem size and Cinder volume size over time, with
the requests, decisions and grows marked, so that someone who has never
seen OpenStack can read what happened::

    chart.write_svg(timeline, 'demo-out/expansion.svg', title='...')

Plain SVG written by hand: no plotting library in the demo's dependencies.
"""

import html

from vsm_devenv.demo import timeline as timeline_mod

GiB = 1 << 30
WIDTH, HEIGHT = 960, 600
LEFT, RIGHT, TOP, BOTTOM = 70, 30, 60, 160

COLOURS = {
    'used': '#4a90d9', 'fs': '#1f2d3d', 'volume': '#e08a00',
    'request': '#7f7f7f', 'pending': '#b59f00', 'granted': '#2e9d4a',
    'denied': '#d0312d', 'extended': '#e08a00', 'resized': '#8e44ad',
    'grown': '#1f6fbf', 'failed': '#d0312d', 'enospc': '#d0312d',
    'note': '#555555',
}
MARKED = ('request', 'granted', 'denied', 'pending', 'grown', 'failed',
          'enospc')
#: Plain words for the event list under the chart.
LABELS = {'request': 'VM asks', 'granted': 'VSM grants',
          'denied': 'VSM denies',
          'pending': 'waits for a human', 'grown': 'grown in the VM',
          'failed': 'failed', 'enospc': 'DISK FULL'}


def _scale(lo, hi, out_lo, out_hi):
    span = (hi - lo) or 1.0

    def f(v):
        return out_lo + (v - lo) * (out_hi - out_lo) / span
    return f


def _nice_step(span, ticks=6):
    raw = span / ticks
    for step in (0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600):
        if step >= raw:
            return step
    return raw


def render_svg(timeline: timeline_mod.Timeline, title: str = '') -> str:
    """Return the SVG document for ``timeline``."""
    samples = timeline.samples
    t_end = max([s.t for s in samples] + [e.t for e in timeline.events]
                + [1.0])
    y_max = max([s.fs_bytes / GiB for s in samples]
                + [s.volume_gb for s in samples] + [1.0]) * 1.15
    x = _scale(0.0, t_end, LEFT, WIDTH - RIGHT)
    y = _scale(0.0, y_max, HEIGHT - BOTTOM, TOP)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
           % (WIDTH, HEIGHT, WIDTH, HEIGHT),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="28" font-size="18" font-weight="bold">%s</text>'
           % (LEFT, html.escape(title))]
    # Axes and grid.
    step = _nice_step(t_end)
    t = 0.0
    while t <= t_end + 1e-9:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" '
                   'stroke="#eee"/>' % (x(t), TOP, x(t), HEIGHT - BOTTOM))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>'
                   % (x(t), HEIGHT - BOTTOM + 16, t))
        t += step
    gstep = _nice_step(y_max, 5)
    g = 0.0
    while g <= y_max + 1e-9:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" '
                   'stroke="#eee"/>' % (LEFT, y(g), WIDTH - RIGHT, y(g)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>'
                   % (LEFT - 6, y(g) + 4, g))
        g += gstep
    out.append('<text x="%d" y="%d" text-anchor="middle">seconds</text>'
               % ((LEFT + WIDTH - RIGHT) // 2, HEIGHT - BOTTOM + 34))
    out.append('<text x="18" y="%d" transform="rotate(-90 18 %d)" '
               'text-anchor="middle">GiB</text>'
               % ((TOP + HEIGHT - BOTTOM) // 2, (TOP + HEIGHT - BOTTOM) // 2))
    if samples:
        # Used space as a filled area.
        pts = ['%.1f,%.1f' % (x(s.t), y(s.used_bytes / GiB))
               for s in samples]
        area = (['%.1f,%.1f' % (x(samples[0].t), y(0))] + pts
                + ['%.1f,%.1f' % (x(samples[-1].t), y(0))])
        out.append('<polygon points="%s" fill="%s" fill-opacity="0.35" '
                   'stroke="%s"/>' % (' '.join(area), COLOURS['used'],
                                      COLOURS['used']))
        # Sizes as step lines: they change at an instant.
        for attr, colour, dash, scale in (
                ('fs_bytes', COLOURS['fs'], '', 1.0 / GiB),
                ('volume_gb', COLOURS['volume'], '6,4', 1.0)):
            pts = []
            prev = None
            for s in samples:
                value = getattr(s, attr) * scale
                if prev is not None:
                    pts.append('%.1f,%.1f' % (x(s.t), y(prev)))
                pts.append('%.1f,%.1f' % (x(s.t), y(value)))
                prev = value
            out.append('<polyline points="%s" fill="none" stroke="%s" '
                       'stroke-width="2.5" stroke-dasharray="%s"/>'
                       % (' '.join(pts), colour, dash))
    # Event markers with numbered labels, listed below the plot.
    legend_events = []
    for event in timeline.events:
        if event.kind not in MARKED:
            continue
        legend_events.append(event)
        n = len(legend_events)
        colour = COLOURS[event.kind]
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" '
                   'stroke-width="1.5" stroke-dasharray="2,3"/>'
                   % (x(event.t), TOP, x(event.t), HEIGHT - BOTTOM, colour))
        out.append('<circle cx="%.1f" cy="%d" r="8" fill="%s"/>'
                   '<text x="%.1f" y="%d" fill="white" font-size="10" '
                   'text-anchor="middle">%d</text>'
                   % (x(event.t), TOP - 8 - 14 * (n % 2), colour, x(event.t),
                      TOP - 4 - 14 * (n % 2), n))
    # Legend.
    lx, ly = LEFT, HEIGHT - BOTTOM + 52
    for label, colour, dash in (('used space', COLOURS['used'], ''),
                                ('filesystem size', COLOURS['fs'], ''),
                                ('Cinder volume size', COLOURS['volume'],
                                 '6,4')):
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" '
                   'stroke-width="3" stroke-dasharray="%s"/>'
                   '<text x="%d" y="%d">%s</text>'
                   % (lx, ly, lx + 24, ly, colour, dash, lx + 30, ly + 4,
                      label))
        lx += 180
    rows = 6
    for i, event in enumerate(legend_events[:2 * rows]):
        col, row = divmod(i, rows)
        ex = LEFT + col * 440
        ey = ly + 20 + row * 15
        text = '%s: %s' % (LABELS.get(event.kind, event.kind), event.text)
        if len(text) > 62:
            text = text[:61] + '\u2026'
        out.append('<text x="%d" y="%d" fill="%s">%d. %.0fs %s</text>'
                   % (ex, ey, COLOURS[event.kind], i + 1, event.t,
                      html.escape(text)))
    if len(legend_events) > 2 * rows:
        out.append('<text x="%d" y="%d" fill="%s">(+%d more in '
                   'timeline.json)</text>'
                   % (LEFT, ly + 20 + rows * 15, COLOURS['note'],
                      len(legend_events) - 2 * rows))
    out.append('</svg>')
    return '\n'.join(out)


def write_svg(timeline: timeline_mod.Timeline, path: str,
              title: str = '') -> str:
    """Write the chart to ``path`` and return the path."""
    with open(path, 'w') as f:
        f.write(render_svg(timeline, title))
    return path
