-- BENCH-CONTRACT's data: user bench/bench, database bench, items
-- 1..100. Loaded by tests/bench/run.py and the integration tests.
CREATE DATABASE bench;
CREATE USER 'bench'@'%' IDENTIFIED BY 'bench';
GRANT ALL ON bench.* TO 'bench'@'%';
USE bench;
CREATE TABLE items (
  id INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL,
  price DECIMAL(10,2) NOT NULL, qty INT NOT NULL) ENGINE=InnoDB;
INSERT INTO items SELECT seq, CONCAT('item-', seq), seq * 1.25, seq * 10
  FROM seq_1_to_100;
