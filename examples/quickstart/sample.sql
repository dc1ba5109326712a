-- A small shop database for the quickstart: a few schemas, roles, keys, a sequence, a view.
CREATE ROLE shop_owner NOLOGIN;
CREATE ROLE shop_reader NOLOGIN;
CREATE SCHEMA sales AUTHORIZATION shop_owner;
SET ROLE shop_owner;
CREATE TABLE sales.customers (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  email text UNIQUE,
  created timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sales.orders (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES sales.customers(id),
  total numeric(12,2) NOT NULL CHECK (total >= 0),
  placed timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON sales.orders (customer_id);
CREATE VIEW sales.order_totals AS
  SELECT c.name, count(o.id) AS orders, coalesce(sum(o.total), 0) AS total
  FROM sales.customers c LEFT JOIN sales.orders o ON o.customer_id = c.id GROUP BY c.name;
COMMENT ON TABLE sales.orders IS 'one row per order';
INSERT INTO sales.customers (name, email)
  SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 1000) g;
INSERT INTO sales.orders (customer_id, total, placed)
  SELECT 1 + (g % 1000), (g % 500) + 0.99, now() - g * interval '1 minute' FROM generate_series(1, 20000) g;
GRANT USAGE ON SCHEMA sales TO shop_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO shop_reader;
RESET ROLE;
