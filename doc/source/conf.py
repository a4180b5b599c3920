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

"""Sphinx configuration of the VSM documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath('../..'))

extensions = [
    'sphinx.ext.autodoc',
    'openstackdocstheme',
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
]

# Sample configuration files, generated at build time from the code.
config_generator_config_file = [
    ('../../etc/vsm-agent/vsm-agent-config-generator.conf',
     '_static/vsm-agent'),
    ('../../etc/vsm/vsm-config-generator.conf', '_static/vsm'),
]

openstackdocs_repo_name = 'openstack/vsm'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
openstackdocs_bug_project = 'vsm'
openstackdocs_bug_tag = ''

project = 'VSM'
copyright = '2026, The VSM Authors'
master_doc = 'index'
source_suffix = '.rst'
exclude_patterns = []
pygments_style = 'native'
html_theme = 'openstackdocs'
html_static_path = ['_static']
autodoc_member_order = 'bysource'
