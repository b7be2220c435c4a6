//! Binance user-stream normalization: table tests over `fixtures/binance/user/*.jsonl`
//! (frames written from the Binance docs), checking the exact payload text of every output.

use corefeed_shards::error::DecodeError;
use corefeed_shards::exchanges::binance::user::normalize as NORMALIZE;
use corefeed_shards::exchanges::user::{orders_hash_entry, FrameInfo, OrdersField};
use corefeed_shards::types::Provider;

const SPOT: &str = include_str!("../fixtures/binance/user/spot.jsonl");
const USDM: &str = include_str!("../fixtures/binance/user/usdm.jsonl");
const COINM: &str = include_str!("../fixtures/binance/user/coinm.jsonl");

/// One fixture frame in, the exact payloads out (JSON text compared byte for byte, so key order,
/// numbers vs strings and omitted keys are all checked), plus what the frame was and the
/// routing metadata of each message.
struct TestCase {
    name: &'static str,
    provider: Provider,
    input: &'static str,
    /// `Ok(FrameInfo)` / `Err(DecodeError)` in Debug form.
    info: &'static str,
    expected: &'static [&'static str],
    /// `kind cid=… st=… g=<genuine> liq=<liquidation>` per message.
    meta: &'static [&'static str],
}

fn run(cases: Vec<TestCase>) {
    for c in cases {
        let mut out = Vec::new();
        let r = NORMALIZE(c.provider, c.input, 1_700_000_000_000, &mut out);
        assert_eq!(format!("{:?}", r), c.info, "{}: frame info", c.name);
        let got: Vec<&str> = out.iter().map(|m| m.json.as_str()).collect();
        assert_eq!(got, c.expected, "{}: payloads", c.name);
        let meta: Vec<String> = out
            .iter()
            .map(|m| {
                format!(
                    "{:?} cid={:?} st={:?} g={} liq={}",
                    m.kind,
                    m.client_order_id,
                    m.order_status,
                    m.genuine_account_event,
                    m.liquidation
                )
            })
            .collect();
        assert_eq!(meta, c.meta, "{}: metadata", c.name);
        for m in &out {
            // Every payload is valid JSON and carries its own uniqueMessageId.
            let v: serde_json::Value = serde_json::from_str(&m.json).expect("valid JSON");
            assert_eq!(
                v["uniqueMessageId"].as_str(),
                Some(m.unique_message_id.as_str()),
                "{}",
                c.name
            );
        }
    }
}

/// Every prefix of every fixture frame (and some garbage) gives a result, never a panic.
fn never_panics(provider: Provider, fixture: &str) {
    for l in fixture.lines() {
        for cut in 0..l.len() {
            if l.is_char_boundary(cut) {
                let mut out = Vec::new();
                let _ = NORMALIZE(provider, &l[..cut], 0, &mut out);
            }
        }
    }
}

#[test]
fn spot_order_life_balances_and_responses() {
    let line = |n: usize| SPOT.lines().nth(n).unwrap();
    run(vec![
        TestCase {
            name: "spot NEW (WS-API wrapper)",
            provider: Provider::Binance,
            input: line(0),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"executionReport","eventTime":1499405658658,"symbol":"ETHBTC","newClientOrderId":"D-TP-abc123","originalClientOrderId":"","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","quantity":"1.00000000","price":"0.10264410","executionType":"NEW","stopPrice":"0.00000000","icebergQuantity":"0.00000000","orderStatus":"NEW","orderRejectReason":"NONE","orderId":4293153,"orderTime":1499405658657,"lastTradeQuantity":"0.00000000","totalTradeQuantity":"0.00000000","priceLastTrade":"0.00000000","commission":"0","commissionAsset":null,"tradeId":-1,"isOrderWorking":true,"isBuyerMaker":false,"creationTime":1499405658657,"totalQuoteTradeQuantity":"0.00000000","orderListId":-1,"quoteOrderQuantity":"0.00000000","lastQuoteTransacted":"0.00000000","uniqueMessageId":"executionReport1499405658658ETHBTCNEW1.000000000.10264410BUYD-TP-abc123"}"#,
            ],
            meta: &[r#"Order cid=Some("D-TP-abc123") st=Some("NEW") g=true liq=false"#],
        },
        TestCase {
            name: "spot PARTIALLY_FILLED with commission",
            provider: Provider::Binance,
            input: line(1),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"executionReport","eventTime":1499405660000,"symbol":"ETHBTC","newClientOrderId":"D-TP-abc123","originalClientOrderId":"","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","quantity":"1.00000000","price":"0.10264410","executionType":"TRADE","stopPrice":"0.00000000","icebergQuantity":"0.00000000","orderStatus":"PARTIALLY_FILLED","orderRejectReason":"NONE","orderId":4293153,"orderTime":1499405659999,"lastTradeQuantity":"0.40000000","totalTradeQuantity":"0.40000000","priceLastTrade":"0.10264410","commission":"0.00040000","commissionAsset":"ETH","tradeId":777,"isOrderWorking":false,"isBuyerMaker":true,"creationTime":1499405658657,"totalQuoteTradeQuantity":"0.04105764","orderListId":-1,"quoteOrderQuantity":"0.00000000","lastQuoteTransacted":"0.04105764","uniqueMessageId":"executionReport1499405660000ETHBTCPARTIALLY_FILLED1.000000000.10264410BUYD-TP-abc123"}"#,
            ],
            meta: &[
                r#"Order cid=Some("D-TP-abc123") st=Some("PARTIALLY_FILLED") g=true liq=false"#,
            ],
        },
        TestCase {
            name: "spot FILLED",
            provider: Provider::Binance,
            input: line(2),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"executionReport","eventTime":1499405661000,"symbol":"ETHBTC","newClientOrderId":"D-TP-abc123","originalClientOrderId":"","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","quantity":"1.00000000","price":"0.10264410","executionType":"TRADE","stopPrice":"0.00000000","icebergQuantity":"0.00000000","orderStatus":"FILLED","orderRejectReason":"NONE","orderId":4293153,"orderTime":1499405660999,"lastTradeQuantity":"0.60000000","totalTradeQuantity":"1.00000000","priceLastTrade":"0.10264410","commission":"0.00060000","commissionAsset":"ETH","tradeId":778,"isOrderWorking":false,"isBuyerMaker":true,"creationTime":1499405658657,"totalQuoteTradeQuantity":"0.10264410","orderListId":-1,"quoteOrderQuantity":"0.00000000","lastQuoteTransacted":"0.06158646","uniqueMessageId":"executionReport1499405661000ETHBTCFILLED1.000000000.10264410BUYD-TP-abc123"}"#,
            ],
            meta: &[r#"Order cid=Some("D-TP-abc123") st=Some("FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "spot CANCELED (bare legacy event, 2^53-1 id stays a number)",
            provider: Provider::Binance,
            input: line(3),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"executionReport","eventTime":1499405662000,"symbol":"BTCUSDT","newClientOrderId":"web_cancel_1","originalClientOrderId":"GRIDTP-77","side":"SELL","orderType":"STOP_LOSS_LIMIT","timeInForce":"GTC","quantity":"0.01000000","price":"52000.00","executionType":"CANCELED","stopPrice":"51000.00","icebergQuantity":"0.00000000","orderStatus":"CANCELED","orderRejectReason":"NONE","orderId":9007199254740991,"orderTime":1499405661999,"lastTradeQuantity":"0.00000000","totalTradeQuantity":"0.00000000","priceLastTrade":"0.00000000","commission":"0","commissionAsset":null,"tradeId":-1,"isOrderWorking":false,"isBuyerMaker":false,"creationTime":1499405650000,"totalQuoteTradeQuantity":"0.00000000","orderListId":-1,"quoteOrderQuantity":"0.00000000","lastQuoteTransacted":"0.00000000","uniqueMessageId":"executionReport1499405662000BTCUSDTCANCELED0.0100000052000.00SELLweb_cancel_1GRIDTP-77"}"#,
            ],
            meta: &[r#"Order cid=Some("web_cancel_1") st=Some("CANCELED") g=true liq=false"#],
        },
        TestCase {
            name: "spot 19-digit orderId stays exact (string)",
            provider: Provider::Binance,
            input: line(4),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"executionReport","eventTime":1786091783778,"symbol":"BTCUSDT","newClientOrderId":"CMB-BO-1","originalClientOrderId":"","side":"BUY","orderType":"MARKET","timeInForce":"GTC","quantity":"0.07000000","price":"0.00000000","executionType":"NEW","stopPrice":"0.00000000","icebergQuantity":"0.00000000","orderStatus":"NEW","orderRejectReason":"NONE","orderId":"1234567890123456789","orderTime":1786091783777,"lastTradeQuantity":"0.00000000","totalTradeQuantity":"0.00000000","priceLastTrade":"0.00000000","commission":"0","commissionAsset":null,"tradeId":-1,"isOrderWorking":true,"isBuyerMaker":false,"creationTime":1786091783777,"totalQuoteTradeQuantity":"0.00000000","orderListId":-1,"quoteOrderQuantity":"299.70000000","lastQuoteTransacted":"0.00000000","uniqueMessageId":"executionReport1786091783778BTCUSDTNEW0.070000000.00000000BUYCMB-BO-1"}"#,
            ],
            meta: &[r#"Order cid=Some("CMB-BO-1") st=Some("NEW") g=true liq=false"#],
        },
        TestCase {
            name: "outboundAccountPosition",
            provider: Provider::Binance,
            input: line(5),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"balances":[{"asset":"ETH","free":"10000.000000","locked":"0.000000"},{"asset":"BTC","free":"1.5","locked":"0.25"}],"eventTime":1564034571105,"eventType":"outboundAccountPosition","lastAccountUpdate":1564034571073,"uniqueMessageId":"outboundAccountPosition1564034571105ETH10000.0000000.000000"}"#,
            ],
            meta: &[r#"Balance cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "balanceUpdate",
            provider: Provider::Binance,
            input: line(6),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"asset":"BTC","balanceDelta":"100.00000000","clearTime":1573200697068,"eventTime":1573200697110,"eventType":"balanceUpdate","uniqueMessageId":"balanceUpdate1573200697110BTC100.00000000"}"#,
            ],
            meta: &[r#"Balance cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "legacy outboundAccountInfo",
            provider: Provider::Binance,
            input: line(7),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"account","eventTime":1564034571105,"makerCommissionRate":0,"takerCommissionRate":0,"buyerCommissionRate":0,"sellerCommissionRate":0,"canTrade":true,"canWithdraw":true,"canDeposit":true,"lastAccountUpdate":1564034571073,"balances":{"ETH":{"available":"10000.000000","locked":"0.000000"},"1INCH":{"available":"5","locked":"1"}},"uniqueMessageId":"account1564034571105undefinedundefinedundefined"}"#,
            ],
            meta: &[r#"Balance cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "externalLockUpdate is not published",
            provider: Provider::Binance,
            input: line(8),
            info: r#"Ok(Ignored)"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "eventStreamTerminated",
            provider: Provider::Binance,
            input: line(9),
            info: r#"Ok(EventStreamTerminated { subscription_id: Some(0) })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "session.logon response",
            provider: Provider::Binance,
            input: line(10),
            info: r#"Ok(Ack { op: Response, id: Some("c174a2b1-3f51-4580-b200-8528bd237cb7"), subscription_id: None, channel: None })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "userDataStream.subscribe response",
            provider: Provider::Binance,
            input: line(11),
            info: r#"Ok(Ack { op: Response, id: Some("d3df8a21-98ea-4fe0-9f4e-0fcea5d418b7"), subscription_id: Some(0), channel: None })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "-2015 error counts a strike",
            provider: Provider::Binance,
            input: line(12),
            info: r#"Ok(Error { id: Some("d3df8a22-98ea-4fe0-9f4e-0fcea5d418b7"), status: Some(401), code: -2015, message: "Invalid API-key, IP, or permissions for action.", auth: Strike })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "not-authenticated rejects at once",
            provider: Provider::Binance,
            input: line(13),
            info: r#"Ok(Error { id: Some("7"), status: Some(400), code: -1022, message: "WebSocket session not authenticated.", auth: Reject })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "other error is not auth",
            provider: Provider::Binance,
            input: line(14),
            info: r#"Ok(Error { id: Some("8"), status: Some(400), code: -1100, message: "Illegal characters found in parameter 'symbol'.", auth: None })"#,
            expected: &[],
            meta: &[],
        },
    ]);
}

#[test]
fn usdm_order_life_account_and_info_events() {
    let line = |n: usize| USDM.lines().nth(n).unwrap();
    run(vec![
        TestCase {
            name: "USD-M NEW",
            provider: Provider::BinanceUsdm,
            input: line(0),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1568879465651,"transactionTime":1568879465650,"symbol":"BTCUSDT","clientOrderId":"D-BO-42","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","quantity":"0.002","price":"7100.50","averagePrice":"0","stopPrice":"0","executionType":"NEW","orderStatus":"NEW","orderId":8886774,"lastTradeQuantity":"0","totalTradeQuantity":"0","priceLastTrade":"0","commission":"0","orderTime":1568879465650,"tradeId":0,"bidsNotional":"14.201","asksNotional":"0","isMaker":false,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIMIT","positionSide":"LONG","closePosition":false,"activationPrice":"0","callbackRate":"0","realizedProfit":"0","uniqueMessageId":"ORDER_TRADE_UPDATE15688794656511568879465650BTCUSDTNEW0.002D-BO-428886774","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("D-BO-42") st=Some("NEW") g=true liq=false"#],
        },
        TestCase {
            name: "USD-M PARTIALLY_FILLED",
            provider: Provider::BinanceUsdm,
            input: line(1),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1568879465652,"transactionTime":1568879465651,"symbol":"BTCUSDT","clientOrderId":"D-BO-42","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","quantity":"0.002","price":"7100.50","averagePrice":"7100.50","stopPrice":"0","executionType":"TRADE","orderStatus":"PARTIALLY_FILLED","orderId":8886774,"lastTradeQuantity":"0.001","totalTradeQuantity":"0.001","priceLastTrade":"7100.50","commissionAsset":"USDT","commission":"0.01000000","orderTime":1568879465651,"tradeId":12345678,"bidsNotional":"7.1005","asksNotional":"0","isMaker":true,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIMIT","positionSide":"LONG","closePosition":false,"activationPrice":"0","callbackRate":"0","realizedProfit":"12.34","uniqueMessageId":"ORDER_TRADE_UPDATE15688794656521568879465651BTCUSDTPARTIALLY_FILLED0.002D-BO-428886774","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("D-BO-42") st=Some("PARTIALLY_FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "USD-M FILLED",
            provider: Provider::BinanceUsdm,
            input: line(2),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1568879465701,"transactionTime":1568879465700,"symbol":"BTCUSDT","clientOrderId":"D-BO-42","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","quantity":"0.002","price":"7100.50","averagePrice":"7100.50","stopPrice":"0","executionType":"TRADE","orderStatus":"FILLED","orderId":8886774,"lastTradeQuantity":"0.001","totalTradeQuantity":"0.002","priceLastTrade":"7100.50","commissionAsset":"USDT","commission":"0.01000000","orderTime":1568879465700,"tradeId":12345679,"bidsNotional":"0","asksNotional":"0","isMaker":true,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIMIT","positionSide":"LONG","closePosition":false,"activationPrice":"0","callbackRate":"0","realizedProfit":"0","uniqueMessageId":"ORDER_TRADE_UPDATE15688794657011568879465700BTCUSDTFILLED0.002D-BO-428886774","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("D-BO-42") st=Some("FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "USD-M CANCELED with 19-digit orderId",
            provider: Provider::BinanceUsdm,
            input: line(3),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1568879466001,"transactionTime":1568879466000,"symbol":"ETHUSDT","clientOrderId":"plain-7","side":"SELL","orderType":"LIMIT","timeInForce":"GTC","quantity":"1.5","price":"3000","averagePrice":"0","stopPrice":"0","executionType":"CANCELED","orderStatus":"CANCELED","orderId":"1234567890123456789","lastTradeQuantity":"0","totalTradeQuantity":"0","priceLastTrade":"0","commission":"0","orderTime":1568879466000,"tradeId":0,"bidsNotional":"0","asksNotional":"0","isMaker":false,"isReduceOnly":true,"workingType":"MARK_PRICE","originalOrderType":"LIMIT","positionSide":"BOTH","closePosition":false,"activationPrice":"0","callbackRate":"0","realizedProfit":"0","uniqueMessageId":"ORDER_TRADE_UPDATE15688794660011568879466000ETHUSDTCANCELED1.5plain-71234567890123456789","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("plain-7") st=Some("CANCELED") g=true liq=false"#],
        },
        TestCase {
            name: "USD-M liquidation autoclose-",
            provider: Provider::BinanceUsdm,
            input: line(4),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1568879467001,"transactionTime":1568879467000,"symbol":"BTCUSDT","clientOrderId":"autoclose-1568879467000123","side":"SELL","orderType":"LIQUIDATION","timeInForce":"IOC","quantity":"0.002","price":"6500","averagePrice":"6500","stopPrice":"0","executionType":"CALCULATED","orderStatus":"FILLED","orderId":8886800,"lastTradeQuantity":"0.002","totalTradeQuantity":"0.002","priceLastTrade":"6500","commissionAsset":"USDT","commission":"0.065","orderTime":1568879467000,"tradeId":12345700,"bidsNotional":"0","asksNotional":"0","isMaker":false,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIQUIDATION","positionSide":"BOTH","closePosition":false,"realizedProfit":"-1.2","uniqueMessageId":"ORDER_TRADE_UPDATE15688794670011568879467000BTCUSDTFILLED0.002autoclose-15688794670001238886800","liquidation":true}"#,
            ],
            meta: &[
                r#"Order cid=Some("autoclose-1568879467000123") st=Some("FILLED") g=true liq=true"#,
            ],
        },
        TestCase {
            name: "ACCOUNT_UPDATE",
            provider: Provider::BinanceUsdm,
            input: line(5),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventTime":1564745798939,"transactionTime":1564745798938,"eventType":"ACCOUNT_UPDATE","eventReasonType":"ORDER","balances":[{"asset":"USDT","walletBalance":"122624.12345678","crossWalletBalance":"100.12345678","balanceChange":"50.12345678"},{"asset":"BNB","walletBalance":"1.00000000","crossWalletBalance":"0.00000000","balanceChange":"0"}],"positions":[{"symbol":"BTCUSDT","positionAmount":"20","entryPrice":"6563.6","accumulatedRealized":"0","unrealizedPnL":"2850.21200","marginType":"isolated","isolatedWallet":"13200.70726908","positionSide":"LONG"}],"uniqueMessageId":"ACCOUNT_UPDATE15647457989391564745798938USDT122624.12345678100.1234567850.12345678"}"#,
            ],
            meta: &[r#"Balance cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "MARGIN_CALL (missing up joins as empty)",
            provider: Provider::BinanceUsdm,
            input: line(6),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventTime":1587727187525,"crossWalletBalance":"3.16812045","eventType":"MARGIN_CALL","positions":[{"symbol":"ETHUSDT","positionSide":"LONG","positionAmount":"1.327","marginType":"CROSSED","isolatedWallet":"0","markPrice":"187.17127","unrealizedPnL":"-1.166074","maintenanceMarginRequired":"1.614445"},{"symbol":"BTCUSDT","positionSide":"BOTH","positionAmount":"-0.1","marginType":"CROSSED","isolatedWallet":"0","markPrice":"7000","maintenanceMarginRequired":"3.5"}],"uniqueMessageId":"MARGIN_CALL15877271875253.16812045-1.166074,"}"#,
            ],
            meta: &[r#"Position cid=None st=None g=false liq=false"#],
        },
        TestCase {
            name: "ACCOUNT_CONFIG_UPDATE leverage",
            provider: Provider::BinanceUsdm,
            input: line(7),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ACCOUNT_CONFIG_UPDATE","eventTime":1611646737479,"transactionTime":1611646737476,"type":"ACCOUNT_CONFIG","uniqueMessageId":"ACCOUNT_CONFIG_UPDATE16116467374791611646737476BTCUSDT25","symbol":"BTCUSDT","leverage":25}"#,
            ],
            meta: &[r#"Info cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "ACCOUNT_CONFIG_UPDATE multi-assets",
            provider: Provider::BinanceUsdm,
            input: line(8),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ACCOUNT_CONFIG_UPDATE","eventTime":1611646737479,"transactionTime":1611646737476,"type":"MULTI_ASSETS","uniqueMessageId":"ACCOUNT_CONFIG_UPDATE16116467374791611646737476true","multiAssets":true}"#,
            ],
            meta: &[r#"Info cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "listenKeyExpired",
            provider: Provider::BinanceUsdm,
            input: line(9),
            info: r#"Ok(ListenKeyExpired { messages: 1 })"#,
            expected: &[
                r#"{"eventTime":1576653824250,"eventType":"USER_DATA_STREAM_EXPIRED","uniqueMessageId":"USER_DATA_STREAM_EXPIRED1576653824250"}"#,
            ],
            meta: &[r#"Info cid=None st=None g=false liq=false"#],
        },
        TestCase {
            name: "TRADE_LITE is not published",
            provider: Provider::BinanceUsdm,
            input: line(10),
            info: r#"Ok(Ignored)"#,
            expected: &[],
            meta: &[],
        },
    ]);
}

#[test]
fn coinm_order_life() {
    let line = |n: usize| COINM.lines().nth(n).unwrap();
    run(vec![
        TestCase {
            name: "COIN-M NEW",
            provider: Provider::BinanceCoinm,
            input: line(0),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1591274595453,"transactionTime":1591274595442,"symbol":"BTCUSD_PERP","clientOrderId":"GA-F-9","side":"SELL","orderType":"LIMIT","timeInForce":"GTC","quantity":"2","price":"9500.0","averagePrice":"0","stopPrice":"0","executionType":"NEW","orderStatus":"NEW","orderId":193535,"lastTradeQuantity":"0","totalTradeQuantity":"0","priceLastTrade":"0","commissionAsset":"BTC","commission":"0","orderTime":1591274595442,"tradeId":0,"bidsNotional":"0","asksNotional":"0.00021052","isMaker":false,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIMIT","positionSide":"BOTH","closePosition":false,"realizedProfit":"0","uniqueMessageId":"ORDER_TRADE_UPDATE15912745954531591274595442BTCUSD_PERPNEW2GA-F-9193535","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("GA-F-9") st=Some("NEW") g=true liq=false"#],
        },
        TestCase {
            name: "COIN-M PARTIALLY_FILLED",
            provider: Provider::BinanceCoinm,
            input: line(1),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1591274596010,"transactionTime":1591274596000,"symbol":"BTCUSD_PERP","clientOrderId":"GA-F-9","side":"SELL","orderType":"LIMIT","timeInForce":"GTC","quantity":"2","price":"9500.0","averagePrice":"9500.0","stopPrice":"0","executionType":"TRADE","orderStatus":"PARTIALLY_FILLED","orderId":193535,"lastTradeQuantity":"1","totalTradeQuantity":"1","priceLastTrade":"9500.0","commissionAsset":"BTC","commission":"0.00000526","orderTime":1591274596000,"tradeId":5001,"bidsNotional":"0","asksNotional":"0.00010526","isMaker":true,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIMIT","positionSide":"BOTH","closePosition":false,"realizedProfit":"0","uniqueMessageId":"ORDER_TRADE_UPDATE15912745960101591274596000BTCUSD_PERPPARTIALLY_FILLED2GA-F-9193535","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("GA-F-9") st=Some("PARTIALLY_FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "COIN-M FILLED",
            provider: Provider::BinanceCoinm,
            input: line(2),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1591274597010,"transactionTime":1591274597000,"symbol":"BTCUSD_PERP","clientOrderId":"GA-F-9","side":"SELL","orderType":"LIMIT","timeInForce":"GTC","quantity":"2","price":"9500.0","averagePrice":"9500.0","stopPrice":"0","executionType":"TRADE","orderStatus":"FILLED","orderId":193535,"lastTradeQuantity":"1","totalTradeQuantity":"2","priceLastTrade":"9500.0","commissionAsset":"BTC","commission":"0.00000526","orderTime":1591274597000,"tradeId":5002,"bidsNotional":"0","asksNotional":"0","isMaker":true,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIMIT","positionSide":"BOTH","closePosition":false,"realizedProfit":"0.0001","uniqueMessageId":"ORDER_TRADE_UPDATE15912745970101591274597000BTCUSD_PERPFILLED2GA-F-9193535","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("GA-F-9") st=Some("FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "COIN-M CANCELED (delivery contract)",
            provider: Provider::BinanceCoinm,
            input: line(3),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"ORDER_TRADE_UPDATE","eventTime":1591274598010,"transactionTime":1591274598000,"symbol":"BTCUSD_250627","clientOrderId":"GA-F-10","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","quantity":"3","price":"9000.0","averagePrice":"0","stopPrice":"0","executionType":"CANCELED","orderStatus":"CANCELED","orderId":193536,"lastTradeQuantity":"0","totalTradeQuantity":"0","priceLastTrade":"0","commissionAsset":"BTC","commission":"0","orderTime":1591274598000,"tradeId":0,"bidsNotional":"0","asksNotional":"0","isMaker":false,"isReduceOnly":false,"workingType":"CONTRACT_PRICE","originalOrderType":"LIMIT","positionSide":"BOTH","closePosition":false,"realizedProfit":"0","uniqueMessageId":"ORDER_TRADE_UPDATE15912745980101591274598000BTCUSD_250627CANCELED3GA-F-10193536","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("GA-F-10") st=Some("CANCELED") g=true liq=false"#],
        },
        TestCase {
            name: "COIN-M ACCOUNT_UPDATE",
            provider: Provider::BinanceCoinm,
            input: line(4),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventTime":1564745798939,"transactionTime":1564745798938,"eventType":"ACCOUNT_UPDATE","eventReasonType":"ORDER","balances":[{"asset":"BTC","walletBalance":"0.01000000","crossWalletBalance":"0.01000000","balanceChange":"0"}],"positions":[{"symbol":"BTCUSD_PERP","positionAmount":"-2","entryPrice":"9500.0","accumulatedRealized":"0","unrealizedPnL":"0.00000105","marginType":"cross","isolatedWallet":"0","positionSide":"BOTH"}],"uniqueMessageId":"ACCOUNT_UPDATE15647457989391564745798938BTC0.010000000.010000000"}"#,
            ],
            meta: &[r#"Balance cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "COIN-M listenKeyExpired",
            provider: Provider::BinanceCoinm,
            input: line(5),
            info: r#"Ok(ListenKeyExpired { messages: 1 })"#,
            expected: &[
                r#"{"eventTime":1576653824250,"eventType":"USER_DATA_STREAM_EXPIRED","uniqueMessageId":"USER_DATA_STREAM_EXPIRED1576653824250"}"#,
            ],
            meta: &[r#"Info cid=None st=None g=false liq=false"#],
        },
    ]);
}

#[test]
fn malformed_and_unknown_frames_are_errors_not_panics() {
    let cases: &[(&str, &str)] = &[
        ("", "Json"),
        ("{", "Json"),
        ("[1,2]", "Json"),
        ("\"text\"", "Json"),
        ("{\"foo\":1}", "Unknown"),
        ("{\"e\":5}", "BadField"),
        ("{\"subscriptionId\":0,\"event\":[1]}", "BadField"),
        (
            "{\"e\":\"outboundAccountPosition\",\"E\":1}",
            "MissingField",
        ),
        (
            "{\"e\":\"outboundAccountPosition\",\"E\":1,\"B\":[1]}",
            "BadField",
        ),
        ("{\"id\":1,\"status\":\"x\"}", "BadField"),
    ];
    for (frame, want) in cases {
        let mut out = Vec::new();
        let err = NORMALIZE(Provider::Binance, frame, 0, &mut out).unwrap_err();
        assert!(format!("{err:?}").starts_with(want), "{frame}: {err:?}");
        assert!(out.is_empty());
    }
    let futures: &[(&str, &str)] = &[
        ("{\"e\":\"ORDER_TRADE_UPDATE\",\"E\":1}", "MissingField"),
        (
            "{\"e\":\"ACCOUNT_UPDATE\",\"E\":1,\"a\":{\"m\":\"ORDER\",\"B\":[]}}",
            "MissingField",
        ),
        ("{\"e\":\"MARGIN_CALL\",\"E\":1}", "MissingField"),
        ("{\"e\":\"ACCOUNT_CONFIG_UPDATE\",\"E\":1}", "MissingField"),
    ];
    for (frame, want) in futures {
        let mut out = Vec::new();
        let err = NORMALIZE(Provider::BinanceUsdm, frame, 0, &mut out).unwrap_err();
        assert!(format!("{err:?}").starts_with(want), "{frame}: {err:?}");
    }
    // Not a Binance provider.
    let mut out = Vec::new();
    assert_eq!(
        NORMALIZE(Provider::Okx, "{}", 0, &mut out),
        Err(DecodeError::Unsupported(Provider::Okx))
    );
    never_panics(Provider::Binance, SPOT);
    never_panics(Provider::BinanceUsdm, USDM);
    never_panics(Provider::BinanceCoinm, COINM);
}

#[test]
fn events_of_the_other_market_publish_nothing() {
    // The seed's `convert` (spot) and `convertFutures` know disjoint event types.
    let mut out = Vec::new();
    let spot_order = SPOT.lines().next().unwrap();
    assert_eq!(
        NORMALIZE(Provider::BinanceUsdm, spot_order, 0, &mut out),
        Ok(FrameInfo::Ignored)
    );
    let futures_order = USDM.lines().next().unwrap();
    assert_eq!(
        NORMALIZE(Provider::Binance, futures_order, 0, &mut out),
        Ok(FrameInfo::Ignored)
    );
    // Spot listenKeyExpired: the frame is recognized, nothing is published.
    assert_eq!(
        NORMALIZE(
            Provider::Binance,
            "{\"e\":\"listenKeyExpired\",\"E\":1}",
            0,
            &mut out
        ),
        Ok(FrameInfo::ListenKeyExpired { messages: 0 })
    );
    assert!(out.is_empty());
    // Paper providers map to their real venue.
    assert!(matches!(
        NORMALIZE(Provider::PaperBinanceUsdm, futures_order, 0, &mut out),
        Ok(FrameInfo::Data { messages: 1 })
    ));
}

#[test]
fn orders_hash_rule() {
    let norm = |p: Provider, frame: &str| {
        let mut out = Vec::new();
        NORMALIZE(p, frame, 0, &mut out).unwrap();
        out.pop().unwrap()
    };
    // Spot D-TP order: stored by newClientOrderId, 1 day while open, 5 min once done.
    let new = norm(Provider::Binance, SPOT.lines().next().unwrap());
    assert_eq!(
        orders_hash_entry(&new),
        Some((OrdersField::ClientOrderId("D-TP-abc123".into()), 86_400))
    );
    let part = norm(Provider::Binance, SPOT.lines().nth(1).unwrap());
    assert_eq!(orders_hash_entry(&part).unwrap().1, 86_400);
    let filled = norm(Provider::Binance, SPOT.lines().nth(2).unwrap());
    assert_eq!(orders_hash_entry(&filled).unwrap().1, 300);
    // A client id without a marker (the marker is only in originalClientOrderId): not stored.
    let cancel = norm(Provider::Binance, SPOT.lines().nth(3).unwrap());
    assert_eq!(orders_hash_entry(&cancel), None);
    // Balances are never stored.
    let bal = norm(Provider::Binance, SPOT.lines().nth(5).unwrap());
    assert_eq!(orders_hash_entry(&bal), None);
    // Futures: stored by clientOrderId on purpose (the seed's `msg.id` bug is not reproduced).
    let fut = norm(Provider::BinanceUsdm, USDM.lines().next().unwrap());
    assert_eq!(
        orders_hash_entry(&fut),
        Some((OrdersField::ClientOrderId("D-BO-42".into()), 86_400))
    );
    let plain = norm(Provider::BinanceUsdm, USDM.lines().nth(3).unwrap());
    assert_eq!(orders_hash_entry(&plain), None);
    // Liquidation: stored even without a marker.
    let liq = norm(Provider::BinanceUsdm, USDM.lines().nth(4).unwrap());
    assert_eq!(
        orders_hash_entry(&liq),
        Some((
            OrdersField::ClientOrderId("autoclose-1568879467000123".into()),
            300
        ))
    );
    // Hyperliquid-style cloid prefix.
    let mut hl = new.clone();
    hl.client_order_id = Some("0xabc".into());
    assert!(orders_hash_entry(&hl).is_some());
    assert_eq!(OrdersField::Liquidation.key("u-1"), "liq_u-1");
}
