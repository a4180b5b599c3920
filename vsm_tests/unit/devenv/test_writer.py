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

import contextlib
import io
import json
import os

import fixtures
import testtools

from vsm_devenv.guest import writer


class WriterTestCase(testtools.TestCase):
    def test_writes_paced_chunks_and_a_summary(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = writer.main([tmp, '--rate-mb', '1000', '--total-mb', '3',
                              '--chunk-mb', '2'])
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(0, rc)
        self.assertEqual([2, 3], [line['mb'] for line in lines[:-1]])
        self.assertTrue(all(line['ok'] for line in lines[:-1]))
        self.assertEqual((True, 3, 0), (lines[-1]['done'],
                                        lines[-1]['written_mb'],
                                        lines[-1]['enospc']))
        self.assertEqual(3 << 20, sum(
            os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp)))

    def test_argv_runs_the_shared_script(self):
        self.assertEqual(
            ['python3', '/opt/vsm/vsm_devenv/guest/writer.py', '/data',
             '--rate-mb', '40', '--total-mb', '100', '--chunk-mb', '16',
             '--mode', 'write', '--prefix', 'p', '--keep-going'],
            writer.argv('/data', 40, 100.0, mode='write', keep_going=True,
                        prefix='p'))
        self.assertTrue(os.path.exists(writer.__file__))
        self.assertTrue(writer.GUEST_PATH.endswith(
            os.path.relpath(writer.__file__, os.path.dirname(os.path.dirname(
                os.path.dirname(writer.__file__))))))
