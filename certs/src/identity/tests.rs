//! Unit tests of identities: SAN URIs both ways, names, server names.

use super::*;

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn round_trip(identity: &Identity) -> Identity {
    let uris = identity.uris();
    identity_from_uris(uris.iter().map(String::as_str)).unwrap()
}

#[test]
fn node_and_member_unit_round_trip() {
    for node in ["350102", "350102001001", "350102-police"] {
        let identity = Identity::Node(id(node));
        assert_eq!(identity.uris(), vec![format!("liandong://node/{node}")]);
        assert_eq!(round_trip(&identity), identity);
    }
}

#[test]
fn operator_with_chinese_name_round_trips_for_each_role() {
    for role in [Role::Operator, Role::Leader] {
        let identity = Identity::Operator {
            node: id("350102"),
            name: "张伟".into(),
            role,
        };
        let uris = identity.uris();
        assert_eq!(uris[0], "liandong://operator/350102/%E5%BC%A0%E4%BC%9F");
        assert_eq!(uris[1], format!("liandong://role/{role}"));
        assert!(uris.iter().all(|u| u.is_ascii()));
        assert_eq!(round_trip(&identity), identity);
    }
    let spaced = Identity::Operator {
        node: id("350102-police"),
        name: "Zhang Wei~李".into(),
        role: Role::Leader,
    };
    assert_eq!(round_trip(&spaced), spaced);
}

#[test]
fn other_schemes_are_ignored() {
    let got = identity_from_uris(["https://example.org/x", "liandong://node/350102"]).unwrap();
    assert_eq!(got, Identity::Node(id("350102")));
    assert_eq!(
        identity_from_uris(["https://example.org/x"]),
        Err(IdentityError::NoIdentity)
    );
    assert_eq!(identity_from_uris([]), Err(IdentityError::NoIdentity));
}

#[test]
fn malformed_inputs_give_the_specific_error() {
    let err = |uris: &[&str]| identity_from_uris(uris.iter().copied()).unwrap_err();

    assert!(matches!(err(&["liandong://node"]), IdentityError::MalformedUri { .. }));
    assert!(matches!(
        err(&["liandong://host/350102"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://node/350102/x"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://node/35010x"]),
        IdentityError::BadNodeId { .. }
    ));
    assert!(matches!(
        err(&["liandong://operator/350102"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://operator/350102/张伟", "liandong://role/leader"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://operator/350102/%E5%BC", "liandong://role/leader"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://operator/350102/%G1", "liandong://role/leader"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://operator/350102/a%2Fb", "liandong://role/leader"]),
        IdentityError::BadName {
            source: NameError::Slash(_),
            ..
        }
    ));
    assert!(matches!(
        err(&["liandong://operator/350102/zhang"]),
        IdentityError::OperatorWithoutRole { .. }
    ));
    assert!(matches!(
        err(&["liandong://operator/350102/zhang", "liandong://role/chief"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://node/350102", "liandong://role/leader"]),
        IdentityError::MisplacedRole { .. }
    ));
    assert!(matches!(
        err(&["liandong://role/leader"]),
        IdentityError::MisplacedRole { .. }
    ));
    assert!(matches!(
        err(&[
            "liandong://operator/350102/zhang",
            "liandong://role/leader",
            "liandong://role/operator"
        ]),
        IdentityError::MisplacedRole { .. }
    ));
    let several = err(&["liandong://node/350102", "liandong://node/350103"]);
    assert!(matches!(several, IdentityError::SeveralIdentities { ref uris } if uris.len() == 2));
    assert!(several.to_string().contains("liandong://node/350103"));
    assert!(
        IdentityError::NoIdentity
            .to_string()
            .contains("carries no liandong:// identity")
    );
}

#[test]
fn operator_names_are_validated() {
    assert_eq!(validate_operator_name("张伟"), Ok(()));
    assert_eq!(validate_operator_name(&"伟".repeat(64)), Ok(()));
    assert_eq!(validate_operator_name(""), Err(NameError::Empty));
    assert!(matches!(
        validate_operator_name(&"伟".repeat(65)),
        Err(NameError::TooLong { chars: 65, .. })
    ));
    assert!(matches!(validate_operator_name("a/b"), Err(NameError::Slash(_))));
    assert!(matches!(validate_operator_name("a\nb"), Err(NameError::Control(_))));
    assert!(matches!(validate_operator_name("a\u{0}"), Err(NameError::Control(_))));
    assert!(matches!(validate_operator_name(" 张伟"), Err(NameError::Whitespace(_))));
}

#[test]
fn identities_serialize() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Peer {
        who: Identity,
    }
    for who in [
        Identity::Node(id("350102-police")),
        Identity::Operator {
            node: id("350102"),
            name: "张伟".into(),
            role: Role::Leader,
        },
    ] {
        let peer = Peer { who };
        let text = toml::to_string(&peer).unwrap();
        assert_eq!(toml::from_str::<Peer>(&text).unwrap(), peer, "{text}");
    }
    let text = "who = { operator = { node = \"350102\", name = \"张伟\", role = \"leader\" } }";
    assert!(matches!(
        toml::from_str::<Peer>(text).unwrap().who,
        Identity::Operator { role: Role::Leader, .. }
    ));
    assert!(
        toml::from_str::<Peer>("who = { node = \"3501\" }").is_err(),
        "ids are validated"
    );
}

#[test]
fn roles_parse_and_print() {
    assert_eq!("leader".parse::<Role>(), Ok(Role::Leader));
    assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
    assert_eq!(Role::Leader.to_string(), "leader");
    assert!("Leader".parse::<Role>().unwrap_err().to_string().contains("\"Leader\""));
}

#[test]
fn server_names_are_valid_dns_names_and_parse_back() {
    for node in ["350102", "350102001001003", "350102-police", "350102-civil-affairs"] {
        let name = server_name_for(&id(node));
        match &name {
            ServerName::DnsName(dns) => assert_eq!(dns.as_ref(), format!("{node}.node.liandong")),
            other => panic!("not a DNS name: {other:?}"),
        }
        assert_eq!(node_from_server_name(&name), Ok(id(node)));
    }
    let other = ServerName::try_from("example.org").unwrap();
    assert!(matches!(
        node_from_server_name(&other),
        Err(ServerNameError::NotANodeName(_))
    ));
    let bad = ServerName::try_from("35010x.node.liandong").unwrap();
    assert!(matches!(
        node_from_server_name(&bad),
        Err(ServerNameError::BadNodeId { .. })
    ));
}

#[test]
fn admins_round_trip_and_refuse_roles_and_bad_names() {
    let admin = Identity::Admin { name: "陈静".into() };
    assert_eq!(admin.uris(), vec!["liandong://admin/%E9%99%88%E9%9D%99".to_owned()]);
    assert_eq!(round_trip(&admin), admin);
    assert_eq!(admin.node(), None);
    assert_eq!(admin.file_stem(), "陈静");
    assert_eq!(admin.to_string(), "federation admin 陈静");
    let err = |uris: &[&str]| identity_from_uris(uris.iter().copied()).unwrap_err();
    assert!(matches!(
        err(&["liandong://admin/chen", "liandong://role/leader"]),
        IdentityError::MisplacedRole { .. }
    ));
    assert!(matches!(
        err(&["liandong://admin/chen/jing"]),
        IdentityError::MalformedUri { .. }
    ));
    assert!(matches!(
        err(&["liandong://admin/"]),
        IdentityError::BadName {
            source: NameError::Empty,
            ..
        }
    ));
    assert!(matches!(
        err(&["liandong://admin/chen", "liandong://node/350102"]),
        IdentityError::SeveralIdentities { .. }
    ));
    let node = Identity::Node(id("350102"));
    assert_eq!(node.node(), Some(&id("350102")));
    assert_eq!(node.file_stem(), "node");
}

#[test]
fn admins_serialize() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Signer {
        who: Identity,
    }
    let signer = Signer {
        who: Identity::Admin { name: "陈静".into() },
    };
    let text = toml::to_string(&signer).unwrap();
    assert_eq!(toml::from_str::<Signer>(&text).unwrap(), signer, "{text}");
    assert!(text.contains("admin"), "{text}");
}
