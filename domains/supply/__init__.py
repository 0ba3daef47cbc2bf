"""The supply domain: its data products, published through the Lakemesh platform."""
