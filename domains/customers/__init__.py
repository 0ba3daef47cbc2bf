"""The customers domain: its data products, published through the Lakemesh platform."""
