"""Every shipped contract is valid ODCS, loads into the platform's model, and lints with datacontract-cli."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lakemesh import ContractInvalid, load_contract, load_contracts
from lakemesh.quality import compile_schema

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
FILES = sorted(CONTRACTS.glob("*/*.yaml"))


def test_sample_mesh_has_the_thirteen_products():
    assert sorted(load_contracts(CONTRACTS)) == [
        "customers.customer",
        "customers.nation",
        "logistics.late_delivery_predictions",
        "logistics.shipment_features",
        "sales.line_items",
        "sales.orders",
        "sales.pricing_summary",
        "sales.revenue_by_nation",
        "sales.shipments",
        "supply.part_suppliers",
        "supply.parts",
        "supply.supplier_delivery_performance",
        "supply.suppliers",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}.{p.stem}")
def test_contract_passes_datacontract_lint(path: Path):
    cli = shutil.which("datacontract") or str(Path(sys.executable).with_name("datacontract"))
    done = subprocess.run([cli, "lint", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}.{p.stem}")
def test_contract_compiles_to_a_pandera_schema(path: Path):
    contract = load_contract(path)
    schema = compile_schema(contract.plan)
    assert list(schema.columns) == [c.name for c in contract.columns]
    assert schema.strict is True
    assert contract.plan.checks[0].name == "schema"


def test_customer_pii_columns_are_classified():
    contract = load_contract(CONTRACTS / "customers" / "customer.yaml")
    assert {c.name for c in contract.columns if c.classification == "pii"} == {"name", "address", "phone"}
    assert contract.owner == "customer-data"
    assert contract.access == "public"
    assert contract.primary_key == ("customer_key",)


def _write(tmp_path: Path, text: str, *, domain: str = "sales", product: str = "orders") -> Path:
    path = tmp_path / domain / f"{product}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_malformed_yaml_names_file_and_line(tmp_path: Path):
    path = _write(tmp_path, "apiVersion: v3.2.0\nkind: [DataContract\n")
    with pytest.raises(ContractInvalid) as error:
        load_contract(path)
    assert str(path) in str(error.value)
    assert "not valid YAML" in str(error.value)
    assert "line" in error.value.field_path


def test_invalid_odcs_names_the_field(tmp_path: Path):
    text = (CONTRACTS / "sales" / "orders.yaml").read_text().replace("logicalType: integer", "logicalType: int64", 1)
    path = _write(tmp_path, text)
    with pytest.raises(ContractInvalid) as error:
        load_contract(path)
    assert error.value.field_path == "schema[0].properties[0].logicalType"
    assert str(path) in str(error.value) and "not valid ODCS" in str(error.value)


def test_missing_required_odcs_field_is_named(tmp_path: Path):
    text = re.sub(r"^version: .*\n", "", (CONTRACTS / "sales" / "orders.yaml").read_text(), count=1, flags=re.M)
    with pytest.raises(ContractInvalid, match=r"'version' is a required property"):
        load_contract(_write(tmp_path, text))


def test_platform_fields_are_checked(tmp_path: Path):
    text = (CONTRACTS / "sales" / "orders.yaml").read_text().replace("value: merge", "value: upsert")
    with pytest.raises(ContractInvalid) as error:
        load_contract(_write(tmp_path, text))
    assert error.value.field_path == "customProperties.writeMode"
    assert "upsert" in str(error.value)


def test_contract_must_sit_in_its_domain_folder(tmp_path: Path):
    text = (CONTRACTS / "sales" / "orders.yaml").read_text()
    with pytest.raises(ContractInvalid, match=r"field 'domain': must be 'supply'"):
        load_contract(_write(tmp_path, text, domain="supply"))
