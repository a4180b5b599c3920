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

"""The demo's live terminal view: one line per sample or event.

Line-oriented on purpose: it reads the same in a terminal, in a CI log and
in ``tmux capture-pane``. Colours only when the output is a terminal::

    view = LiveView(sys.stdout)
    view.header('ext4 on /data, 1 GiB volume, limit 4 GiB')
    view.sample(sample)          # a bar of used space
    view.event(event)            # requests, decisions, grows
"""

import sys

from vsm_devenv.demo import timeline as timeline_mod

GiB = 1 << 30
_COLOURS = {'request': '36', 'pending': '33', 'granted': '32',
            'denied': '31', 'extended': '33', 'resized': '35',
            'grown': '34', 'failed': '31', 'enospc': '31', 'note': '0'}
_WORDS = {'request': 'the VM asks for more space',
          'pending': 'waits for a human',
          'granted': 'VSM grants', 'denied': 'VSM denies',
          'extended': 'the cloud grew the volume',
          'resized': 'the VM sees a bigger disk',
          'grown': 'grown inside the VM', 'failed': 'failed',
          'enospc': 'DISK FULL', 'note': ''}


class LiveView:
    def __init__(self, stream=None, bar_width=30):
        self.stream = stream or sys.stdout
        self.colour = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.bar_width = bar_width

    def _paint(self, code, text):
        if not self.colour or code == '0':
            return text
        return '\033[%sm%s\033[0m' % (code, text)

    def _write(self, line):
        self.stream.write(line + '\n')
        self.stream.flush()

    def header(self, text):
        self._write(self._paint('1', '== %s ==' % text))
        self._write('%7s  %-*s  %9s  %9s  %7s'
                    % ('time', self.bar_width + 7, 'used space', 'used',
                       'fs size', 'volume'))

    def sample(self, sample: timeline_mod.Sample):
        ratio = sample.used_bytes / sample.fs_bytes if sample.fs_bytes else 0
        filled = min(self.bar_width, int(round(ratio * self.bar_width)))
        code = '31' if ratio >= 0.9 else '33' if ratio >= 0.75 else '32'
        bar = self._paint(code, '#' * filled) + '.' * (self.bar_width
                                                       - filled)
        self._write('%6.1fs  [%s] %3d%%  %6.2f GiB  %6.2f GiB  %4d GiB'
                    % (sample.t, bar, ratio * 100, sample.used_bytes / GiB,
                       sample.fs_bytes / GiB, sample.volume_gb))

    def event(self, event: timeline_mod.Event):
        words = _WORDS.get(event.kind, event.kind)
        text = '%s: %s' % (words, event.text) if words else event.text
        self._write('%6.1fs  %s' % (event.t, self._paint(
            _COLOURS.get(event.kind, '0'), '>> ' + text)))
