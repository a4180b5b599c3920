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

"""Static checks of the DevStack plugin's files (seconds, no cloud).

``tox -e pep8`` runs bashate on ``*.sh`` only; ``devstack/settings`` and
``devstack/lib/vsm`` have no suffix, so they are checked here, with the
same options, together with ``plugin.sh`` and a ``bash -n`` parse.
"""

import os
import subprocess
import sys

import testtools

from vsm_devenv.devstack import snapshots

FILES = [os.path.join(snapshots.REPO_ROOT, 'devstack', name)
         for name in ('settings', 'plugin.sh', 'lib/vsm')]


class PluginFilesTest(testtools.TestCase):

    def test_bashate(self):
        result = subprocess.run(
            [sys.executable, '-m', 'bashate.bashate', '-v', '-iE006'] + FILES,
            capture_output=True, text=True)
        self.assertEqual(0, result.returncode,
                         result.stdout + result.stderr)

    def test_bash_parses(self):
        for path in FILES:
            result = subprocess.run(['bash', '-n', path],
                                    capture_output=True, text=True)
            self.assertEqual(0, result.returncode,
                             '%s: %s' % (path, result.stderr))
