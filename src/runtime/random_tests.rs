use super::*;

#[test]
fn philox_matches_the_random123_known_answers() {
    // Known-answer vectors of Random123 (kat_vectors, philox4x32_10).
    assert_eq!(
        philox4x32_10([0, 0], [0, 0, 0, 0]),
        [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
    );
    assert_eq!(
        philox4x32_10([u32::MAX, u32::MAX], [u32::MAX; 4]),
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
    );
    assert_eq!(
        philox4x32_10(
            [0xa409_3822, 0x299f_31d0],
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344]
        ),
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
    );
}

#[test]
fn a_draw_is_the_same_split_or_whole() {
    // Element i depends only on (key, counter + i): two draws of 3 and 5
    // elements give the same numbers as one draw of 8.
    let mut a = Rng::new(9);
    let whole = a.uniform(vec![8], DType::F64).unwrap().to_f64_vec();
    let mut b = Rng::new(9);
    let mut parts = b.uniform(vec![3], DType::F64).unwrap().to_f64_vec();
    parts.extend(b.uniform(vec![5], DType::F64).unwrap().to_f64_vec());
    assert_eq!(whole, parts);
}

#[test]
fn restoring_the_state_replays_the_draws() {
    let mut r = Rng::new(4);
    let _ = r.normal(vec![2], DType::F32).unwrap();
    let saved = r.state();
    let first = r.normal(vec![5], DType::F32).unwrap();
    r.restore(&saved).unwrap();
    assert_eq!(r.normal(vec![5], DType::F32).unwrap(), first);
}

#[test]
fn uniforms_stay_below_one_and_normals_have_unit_variance() {
    let mut r = Rng::new(1);
    let u = r.uniform(vec![200_000], DType::F32).unwrap().to_f64_vec();
    assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    let n = r.normal(vec![200_000], DType::F64).unwrap().to_f64_vec();
    let mean = n.iter().sum::<f64>() / n.len() as f64;
    let var = n.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n.len() as f64;
    // Standard errors: 1/sqrt(2e5) ≈ 0.0022 for the mean, ≈ 0.0032 for the variance.
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((var - 1.0).abs() < 0.015, "variance {var}");
}

#[test]
fn permutations_hold_every_index_once() {
    let mut r = Rng::new(3);
    let mut p = r.permutation(1000).unwrap().to_i64_vec();
    assert_ne!(p, (0..1000).collect::<Vec<i64>>());
    p.sort_unstable();
    assert_eq!(p, (0..1000).collect::<Vec<i64>>());
    assert!(r.permutation(-1).is_err());
}

#[test]
fn categorical_frequencies_match_the_probabilities() {
    let mut r = Rng::new(5);
    let probs = Tensor::from_f64s(DType::F64, vec![1, 3], vec![0.2, 0.0, 0.8]).unwrap();
    let mut counts = [0usize; 3];
    for _ in 0..20_000 {
        let z = r.categorical(&probs).unwrap().to_i64_vec();
        counts[z[0] as usize] += 1;
    }
    assert_eq!(counts[1], 0, "a zero-probability category is never drawn");
    let f0 = counts[0] as f64 / 20_000.0;
    assert!((f0 - 0.2).abs() < 0.015, "frequency {f0}");
}

#[test]
fn invalid_probabilities_are_errors() {
    let mut r = Rng::new(0);
    let neg = Tensor::from_f64s(DType::F32, vec![2], vec![-0.1, 1.1]).unwrap();
    assert!(matches!(
        r.categorical(&neg),
        Err(KernelError::BadProbabilities { .. })
    ));
    let short = Tensor::from_f64s(DType::F32, vec![2], vec![0.3, 0.3]).unwrap();
    assert!(matches!(
        r.categorical(&short),
        Err(KernelError::BadProbabilities { .. })
    ));
    let nan = Tensor::from_f64s(DType::F32, vec![1], vec![f64::NAN]).unwrap();
    assert!(matches!(
        r.bernoulli(&nan),
        Err(KernelError::BadProbabilities { .. })
    ));
    let big = Tensor::from_f64s(DType::F32, vec![1], vec![1.5]).unwrap();
    assert!(matches!(
        r.bernoulli(&big),
        Err(KernelError::BadProbabilities { .. })
    ));
}

#[test]
fn score_gradients_are_safe_at_zero_probabilities() {
    let p = Tensor::from_f64s(DType::F64, vec![2], vec![1.0, 0.25]).unwrap();
    let z = Tensor::from_i64s(vec![2], vec![1, 0]).unwrap();
    assert_eq!(
        score_bernoulli(&p, &z).unwrap().to_f64_vec(),
        vec![1.0, -1.0 / 0.75]
    );
    let probs = Tensor::from_f64s(DType::F64, vec![3], vec![0.0, 0.5, 0.5]).unwrap();
    let k = Tensor::scalar_i64(2);
    assert_eq!(
        score_categorical(&probs, &k).unwrap().to_f64_vec(),
        vec![0.0, 0.0, 2.0]
    );
}
