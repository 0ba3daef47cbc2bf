"""The docs show the sample's code as it is: a snippet that cites a file is found in that file, line for line."""

import re

import pytest

from .conftest import PROJECT_DIR

_CITED = re.compile(r"\(`(domains/[\w/]+\.py)`[^)]*\):\s*\n\s*```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", ["README.md", "docs/models.md", "docs/spark.md"])
def test_a_snippet_that_cites_a_file_is_that_file_s_code(page: str):
    cited = _CITED.findall((PROJECT_DIR / page).read_text())
    assert cited or page == "README.md", f"{page} cites no sample file any more"
    for path, snippet in cited:
        code = (PROJECT_DIR / path).read_text()
        blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", snippet) if block.strip()]
        missing = [block for block in blocks if block not in code]
        assert not missing, f"{page} shows code that {path} does not have:\n" + "\n\n".join(missing)
